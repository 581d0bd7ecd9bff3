import {
  createInvoiceItem,
  deleteInvoiceItem,
  getInvoiceItem,
  listInvoiceItems,
  updateInvoiceItem,
} from "../billing/invoice-items.ts";
import { paginate } from "../lists.ts";
import { expandList } from "../params.ts";
import { render } from "../render.ts";
import type { Route } from "../router.ts";

export const invoiceItemRoutes: Route[] = [
  {
    method: "POST",
    path: "/v1/invoiceitems",
    handler: ({ ctx, params }) =>
      render(ctx.state, createInvoiceItem(ctx, params), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/invoiceitems",
    handler: ({ ctx, params }) =>
      render(
        ctx.state,
        paginate(listInvoiceItems(ctx, params), params, "/v1/invoiceitems"),
        expandList(params),
      ),
  },
  {
    method: "GET",
    path: "/v1/invoiceitems/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, getInvoiceItem(ctx, args.id ?? ""), expandList(params)),
  },
  {
    method: "POST",
    path: "/v1/invoiceitems/:id",
    handler: ({ ctx, params, args }) => {
      const item = getInvoiceItem(ctx, args.id ?? "");
      updateInvoiceItem(ctx, item, params);
      return render(ctx.state, item, expandList(params));
    },
  },
  {
    method: "DELETE",
    path: "/v1/invoiceitems/:id",
    handler: ({ ctx, params, args }) =>
      render(
        ctx.state,
        deleteInvoiceItem(ctx, getInvoiceItem(ctx, args.id ?? "")),
        expandList(params),
      ),
  },
];
