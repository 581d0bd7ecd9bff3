import {
  authenticate,
  requireUser,
  requireVerifiedEmail,
  unverifiedEmailFailure,
} from "../accounts/index.ts";
import type { AppDeps } from "../platform/feature.ts";
import { businessFailure, errorResponses, failures } from "../platform/http/error-schemas.ts";
import { described } from "../platform/http/openapi.ts";
import { PageQuery, pageRequest, paginated } from "../platform/http/pagination.ts";
import { returnOrigins } from "../platform/http/storefront-origin.ts";
import type { App } from "../platform/http/types.ts";
import type { BillingDeps } from "./billing-deps.ts";
import { startCheckout } from "./checkout-service.ts";
import {
  CheckoutBody,
  CheckoutSession,
  InvoicePage,
  InvoiceParams,
  Invoice as InvoiceSchema,
  PaymentMethodBody,
  PaymentMethodResult,
  PaymentMethodStatus,
  PortalBody,
  PortalSession,
  UpcomingInvoice,
} from "./hosted-schemas.ts";
import { getInvoice, invoiceBody, listInvoices, upcomingInvoice } from "./invoices-service.ts";
import { defaultCard, updatePaymentMethod } from "./payment-method-service.ts";
import { openPortal } from "./portal-service.ts";
import { actAsCaller } from "./route-actor.ts";

/**
 * `/api/subscriptions/checkout/`, `portal/`, `invoices/…` and `payment-method/`
 * (docs/checkout-and-invoices.md): every route acts on the signed-in user's own objects only.
 */
export function registerHostedRoutes(app: App, appDeps: AppDeps, deps: BillingDeps): void {
  const context: RouteContext = {
    app,
    appDeps,
    deps,
    service: { ...deps, logger: appDeps.logger },
    auth: authenticate(appDeps),
    base: { tags: ["subscriptions"], security: [{ bearerAuth: [] }] },
  };
  checkoutRoutes(context);
  invoiceRoutes(context);
  paymentMethodRoutes(context);
}

/** What every route of this file shares. */
interface RouteContext {
  app: App;
  appDeps: AppDeps;
  deps: BillingDeps;
  service: BillingDeps & { logger: AppDeps["logger"] };
  auth: ReturnType<typeof authenticate>;
  base: { tags: string[]; security: Record<string, string[]>[] };
}

/** Checkout and the Billing Portal: Stripe's hosted pages. */
function checkoutRoutes({ app, appDeps, service, auth, base }: RouteContext): void {
  app.post(
    "/api/subscriptions/checkout/",
    {
      schema: {
        ...base,
        operationId: "subscriptions_checkout",
        summary: "Subscribe through Stripe Checkout: answers the hosted page's URL.",
        description:
          "Opens a Stripe Checkout Session for the plan (one open session per user: asking again " +
          "for the same plan and quantity answers the same one while it is open; another plan or " +
          "quantity replaces it). Once the customer pays, Stripe's webhooks make the subscription " +
          "the user's, whether or not the browser comes back to `success_url`.",
        body: CheckoutBody,
        response: {
          200: described("The open Checkout Session.", CheckoutSession),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            failures.fields,
            [
              businessFailure(400, "Already subscribed, or Stripe refused the request."),
              businessFailure(404, "No active plan with this id."),
              unverifiedEmailFailure,
            ],
            failures.auth,
            failures.database,
          ),
        },
      },
      preValidation: [auth, requireVerifiedEmail(appDeps.config)],
      preHandler: actAsCaller,
    },
    async (request) =>
      startCheckout(
        service,
        returnOrigins(appDeps.config, request),
        requireUser(request).id,
        request.body,
      ),
  );

  app.post(
    "/api/subscriptions/portal/",
    {
      schema: {
        ...base,
        operationId: "subscriptions_portal",
        summary: "Open Stripe's Billing Portal for the signed-in user's customer.",
        description:
          "Cancel, switch plan, change seats or update the card at Stripe; the changes reach the " +
          "app through webhooks, as the API's own routes' do. `return_url` is where the portal's " +
          "back link goes (defaults to the web app's /billing). The body may be left out.",
        body: PortalBody,
        response: {
          200: described("The portal session.", PortalSession),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            failures.fields,
            [
              businessFailure(400, "Stripe refused to open the portal (not configured)."),
              businessFailure(404, "The user has never subscribed: no Stripe customer yet."),
            ],
            failures.auth,
            failures.database,
          ),
        },
      },
      config: { optionalBody: true },
      preValidation: auth,
      preHandler: actAsCaller,
    },
    async (request) =>
      openPortal(
        service,
        returnOrigins(appDeps.config, request),
        requireUser(request).id,
        request.body ?? {},
      ),
  );
}

/** The user's invoices, stored from webhooks, and the next one's preview. */
function invoiceRoutes({ app, deps, auth, base }: RouteContext): void {
  app.get(
    "/api/subscriptions/invoices/",
    {
      schema: {
        ...base,
        operationId: "subscriptions_invoices_list",
        summary: "The signed-in user's invoices, newest first, 20 a page.",
        description:
          "Stored from Stripe's `invoice.*` webhooks (drafts are not listed); DRF's page-number pagination, as for payments.",
        querystring: PageQuery,
        response: {
          200: described("A page of the user's invoices.", InvoicePage),
          ...errorResponses(
            failures.any,
            failures.fields,
            failures.page,
            failures.auth,
            failures.database,
          ),
        },
      },
      preValidation: auth,
    },
    async (request) => {
      const at = pageRequest(request.query);
      const { count, invoices } = await listInvoices(deps.db, requireUser(request).id, at);
      return paginated(request, at, count, invoices.map(invoiceBody));
    },
  );

  app.get(
    "/api/subscriptions/invoices/upcoming/",
    {
      schema: {
        ...base,
        operationId: "subscriptions_invoices_upcoming",
        summary: "A preview of the current subscription's next invoice.",
        description:
          "Computed by Stripe now (`invoices.createPreview`); nothing is stored or charged.",
        response: {
          200: described("The next renewal's invoice, as it stands.", UpcomingInvoice),
          ...errorResponses(
            failures.any,
            [businessFailure(404, "No live subscription, or one that ends at its period end.")],
            failures.auth,
            failures.database,
          ),
        },
      },
      preValidation: auth,
    },
    async (request) => upcomingInvoice(deps, requireUser(request).id),
  );

  app.get(
    "/api/subscriptions/invoices/:id/",
    {
      schema: {
        ...base,
        operationId: "subscriptions_invoices_retrieve",
        summary: "One of the signed-in user's invoices, by Stripe's id.",
        description:
          "Stripe's invoice id (`in_…`, a payment's `stripe_invoice_id`). Another user's invoice " +
          "answers the same 404 as an unknown one.",
        params: InvoiceParams,
        response: {
          200: described("The invoice.", InvoiceSchema),
          ...errorResponses(
            failures.any,
            failures.fields,
            [businessFailure(404, "No such invoice of this user (another user's is a 404 too).")],
            failures.auth,
            failures.database,
          ),
        },
      },
      preValidation: auth,
    },
    async (request) =>
      invoiceBody(await getInvoice(deps.db, requireUser(request).id, request.params.id)),
  );
}

/** The card on file. */
function paymentMethodRoutes({ app, deps, service, auth, base }: RouteContext): void {
  app.get(
    "/api/subscriptions/payment-method/",
    {
      schema: {
        ...base,
        operationId: "subscriptions_payment_method_retrieve",
        summary: "The default card on file (brand, last 4 digits, expiry), or null.",
        description:
          "The Stripe customer's default payment method, read from Stripe (POST sets it on the " +
          "customer and on the current subscription).",
        response: {
          200: described("The default card.", PaymentMethodStatus),
          ...errorResponses(failures.any, failures.auth, failures.database),
        },
      },
      preValidation: auth,
    },
    async (request) => ({ payment_method: await defaultCard(deps, requireUser(request).id) }),
  );

  app.post(
    "/api/subscriptions/payment-method/",
    {
      schema: {
        ...base,
        operationId: "subscriptions_payment_method_update",
        summary:
          "Start a SetupIntent (no card given), or make a card the default; a past-due subscription's open invoice is paid with it at once.",
        description:
          "With `payment_method_id`: the card is attached to the user's Stripe customer, made the " +
          "default of the customer and of the current subscription and, when that subscription " +
          "is `past_due` or `unpaid`, its open invoice is paid now: a decline is a 402, a card that " +
          "needs 3-D Secure answers `client_secret`. Without it: a SetupIntent's `client_secret` " +
          "for Stripe.js to collect a card.",
        body: PaymentMethodBody,
        response: {
          200: described("The card set (or the SetupIntent started).", PaymentMethodResult),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            failures.fields,
            [
              businessFailure(
                400,
                "The card cannot be used (unknown, or someone else's), or Stripe refused the change.",
              ),
              businessFailure(402, "The card was declined."),
            ],
            failures.auth,
            failures.database,
          ),
        },
      },
      config: { optionalBody: true },
      preValidation: auth,
      preHandler: actAsCaller,
    },
    async (request) =>
      updatePaymentMethod(service, requireUser(request).id, request.body?.payment_method_id),
  );
}
