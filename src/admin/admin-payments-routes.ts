import { randomUUID } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import { PAYMENT_STATUSES } from "../billing/index.ts";
import type { AppDeps } from "../platform/feature.ts";
import { businessFailure, failures } from "../platform/http/error-schemas.ts";
import { Nullable } from "../platform/http/nullable.ts";
import { described } from "../platform/http/openapi.ts";
import { PageQuery, Paginated, pageRequest, paginated } from "../platform/http/pagination.ts";
import type { App } from "../platform/http/types.ts";
import { listAdminPayments, refundPayment } from "./admin-payments-service.ts";
import { adminErrors, adminWriteErrors } from "./staff-guard.ts";

const Money = Type.String({
  description: "Decimal string in major units with the currency's decimals.",
  examples: ["9.99"],
});
const Time = Type.String({ format: "date-time" });

const AdminPayment = Type.Object({
  id: Type.String({ format: "uuid" }),
  user_id: Type.String({ format: "uuid" }),
  stripe_payment_intent_id: Nullable(Type.String()),
  stripe_invoice_id: Nullable(Type.String()),
  stripe_charge_id: Nullable(Type.String()),
  stripe_refund_id: Nullable(Type.String({ description: "Set on a `refunded` row." })),
  amount: Money,
  currency: Type.String({ examples: ["usd"] }),
  status: Type.String({ enum: [...PAYMENT_STATUSES] }),
  description: Type.String(),
  quantity: Nullable(Type.Integer()),
  unit_amount: Nullable(Type.String()),
  discount_amount: Money,
  promotion_code: Nullable(Type.String()),
  attempt: Type.Integer({ description: "The invoice's attempt number, on a `failed` row." }),
  failure_message: Nullable(Type.String()),
  amount_refunded: {
    ...Money,
    description:
      "Of a `succeeded` payment: what its recorded refunds (the `refunded` rows of its charge) add up to.",
  },
  created_at: Time,
});

const PaymentsQuery = Type.Object({
  ...PageQuery.properties,
  user: Type.Optional(Type.String({ format: "uuid", description: "Only this user's payments." })),
  status: Type.Optional(Type.Enum(PAYMENT_STATUSES, { type: "string" })),
});

const RefundBody = Type.Object(
  {
    amount: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          "Minor units (999 = 9.99 USD). Absent: everything not refunded yet. At most the refundable rest.",
      }),
    ),
  },
  { additionalProperties: false },
);

const Refund = Type.Object({
  id: Type.String({ description: "Stripe's refund id (`re_…`).", examples: ["re_3Q…"] }),
  payment_id: Type.String({ format: "uuid" }),
  amount: Money,
  currency: Type.String(),
  status: Type.String({
    description: "Stripe's: `succeeded`, `pending`, `requires_action`, `failed` or `canceled`.",
  }),
  remaining: { ...Money, description: "Still refundable after this refund." },
});

const IdParams = Type.Object({ id: Type.String({ format: "uuid" }) });

/** The key a write is known by at Stripe: the request's Idempotency-Key, else a fresh one. */
export function stripeKeyOf(request: FastifyRequest): string {
  const key = request.headers["idempotency-key"];
  return typeof key === "string" && key !== "" ? key : randomUUID();
}

/** `/api/admin/payments/…`: every user's payments, and refunds through Stripe. */
export function paymentsRoutes(app: App, deps: AppDeps): void {
  const services = {
    db: deps.database.db,
    stripe: deps.stripe.stripe,
    logger: deps.logger,
  };
  const base = { tags: ["admin"], security: [{ bearerAuth: [] }] };

  app.get(
    "/api/admin/payments/",
    {
      schema: {
        ...base,
        operationId: "admin_payments_list",
        summary: "Payments of every user, newest first, 20 a page; filter by user and status.",
        description:
          "A refund is its own `refunded` row, recorded once when Stripe's `charge.refunded` webhook comes back; the payment it refunds shows it in `amount_refunded`.",
        querystring: PaymentsQuery,
        response: {
          200: described("A page of payments.", Paginated(AdminPayment)),
          ...adminErrors(failures.fields, failures.page),
        },
      },
    },
    async (request) => {
      const at = pageRequest(request.query);
      const filter = { userId: request.query.user, status: request.query.status };
      const { count, results } = await listAdminPayments(services, filter, at);
      return paginated(request, at, count, results);
    },
  );

  app.post(
    "/api/admin/payments/:id/refund/",
    {
      schema: {
        ...base,
        operationId: "admin_payments_refund",
        summary: "Refund a payment fully or partly through Stripe.",
        description:
          "Asks Stripe's Refunds API (idempotently: the Idempotency-Key names the refund at Stripe). " +
          "The refund is not written here: it appears in the payments once, when Stripe's " +
          "`charge.refunded` webhook comes back. Audited as `admin.refund_requested`.",
        params: IdParams,
        body: RefundBody,
        response: {
          201: described("Stripe made the refund.", Refund),
          ...adminWriteErrors([
            businessFailure(
              400,
              "The payment is not a succeeded one, is refunded in full, or Stripe refused.",
            ),
            businessFailure(404, "No payment with this id."),
          ]),
        },
      },
      config: { optionalBody: true },
    },
    async (request, reply) => {
      const refund = await refundPayment(services, {
        paymentId: request.params.id,
        amount: request.body.amount,
        key: stripeKeyOf(request),
      });
      reply.code(201);
      return refund;
    },
  );
}
