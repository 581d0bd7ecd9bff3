import type Stripe from "stripe";
import { bool, int, metadata, pagination, type Shape, shape, str } from "./schema.ts";

/** Customer balance transactions and invoice items (the pending prorations). */
export const balanceAndItemDeclarations: Record<string, Shape> = {
  "GET /v1/customers/:id/balance_transactions": shape<Stripe.CustomerListBalanceTransactionsParams>(
    { ...pagination },
  ),
  "POST /v1/customers/:id/balance_transactions":
    shape<Stripe.CustomerCreateBalanceTransactionParams>({
      amount: int,
      currency: str,
      description: str,
      metadata,
    }),
  "GET /v1/customers/:id/balance_transactions/:txn":
    shape<Stripe.CustomerRetrieveBalanceTransactionParams>({}),
  "GET /v1/invoiceitems": shape<Stripe.InvoiceItemListParams>({
    ...pagination,
    customer: str,
    invoice: str,
    pending: bool,
  }),
  "GET /v1/invoiceitems/:id": shape<Stripe.InvoiceItemRetrieveParams>({}),
};
