import { Type } from "typebox";
import { EntitlementsSchema, Plan as PlanSchema } from "../billing/index.ts";
import type { AppDeps } from "../platform/feature.ts";
import { businessFailure, failures } from "../platform/http/error-schemas.ts";
import { Nullable } from "../platform/http/nullable.ts";
import { described } from "../platform/http/openapi.ts";
import { PageQuery, Paginated, pageRequest, paginated } from "../platform/http/pagination.ts";
import type { App } from "../platform/http/types.ts";
import { stripeKeyOf } from "./admin-payments-routes.ts";
import {
  createAdminPlan,
  deactivateAdminPlan,
  editAdminPlan,
  listAdminPlans,
  syncAdminPlans,
} from "./admin-plans-service.ts";
import { adminErrors, adminWriteErrors } from "./staff-guard.ts";

const AdminPlan = Type.Object({
  ...PlanSchema.properties,
  is_active: Type.Boolean({ description: "Sold: listed on /api/subscriptions/plans/." }),
  stripe_product_id: Type.String({ examples: ["prod_Q…"] }),
});

const Name = Type.String({ minLength: 1, maxLength: 200 });
const Features = Type.Array(Type.String({ minLength: 1, maxLength: 80 }), {
  maxItems: 15,
  description: "Marketing features, shown with the plan (the Stripe product's).",
});
const Description = Type.String({ maxLength: 1000 });

const CreateBody = Type.Object(
  {
    name: Name,
    description: Type.Optional(Description),
    amount: Type.String({
      pattern: "^[0-9]+(\\.[0-9]+)?$",
      description: "Major units, with at most the currency's decimals: 9.99, 1000 (JPY).",
      examples: ["9.99"],
    }),
    currency: Type.String({ pattern: "^[a-zA-Z]{3}$", examples: ["usd"] }),
    interval: Type.String({ enum: ["month", "year"] }),
    features: Type.Optional(Features),
    entitlements: Type.Optional(EntitlementsSchema),
    trial_days: Type.Optional(Type.Integer({ minimum: 0, maximum: 730 })),
    per_seat: Type.Optional(Type.Boolean()),
    min_quantity: Type.Optional(Type.Integer({ minimum: 1 })),
    max_quantity: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  },
  { additionalProperties: false },
);

const EditBody = Type.Object(
  {
    name: Type.Optional(Name),
    description: Type.Optional(Description),
    features: Type.Optional(Features),
    entitlements: Type.Optional(EntitlementsSchema),
  },
  { additionalProperties: false, minProperties: 1 },
);

const SyncResult = Type.Object({
  synced: Type.Array(AdminPlan),
  deactivated: Type.Integer({ minimum: 0, description: "Plans whose price is no longer active." }),
  skipped: Type.Array(
    Type.Object({
      stripe_price_id: Type.String(),
      problems: Type.Array(Type.String()),
    }),
    { description: "Prices whose metadata could not be read: their plans were left as they were." },
  ),
});

const IdParams = Type.Object({ id: Type.String({ format: "uuid" }) });
const notFound = businessFailure(404, "No plan with this id.");
const refused = businessFailure(400, "The plan rules or Stripe refused the change.");

/** `/api/admin/plans/…`: the catalog, as the `plans:*` commands manage it. */
export function plansRoutes(app: App, deps: AppDeps): void {
  const services = { db: deps.database.db, stripe: deps.stripe.stripe, logger: deps.logger };
  const base = { tags: ["admin"], security: [{ bearerAuth: [] }] };

  app.get(
    "/api/admin/plans/",
    {
      schema: {
        ...base,
        operationId: "admin_plans_list",
        summary: "Every plan, active first, 20 a page.",
        description:
          "Inactive plans too (no longer sold; their subscriptions keep running), with their Stripe " +
          "product; what `plans:list` shows.",
        querystring: PageQuery,
        response: {
          200: described("A page of plans.", Paginated(AdminPlan)),
          ...adminErrors(failures.fields, failures.page),
        },
      },
    },
    async (request) => {
      const at = pageRequest(request.query);
      const { count, results } = await listAdminPlans(services, at);
      return paginated(request, at, count, results);
    },
  );

  app.post(
    "/api/admin/plans/",
    {
      schema: {
        ...base,
        operationId: "admin_plans_create",
        summary: "Create a plan: a Stripe product and recurring price, registered as a plan.",
        description:
          "Trial, seats and entitlements go into the price's metadata, where `plans:sync` reads them. " +
          "The Idempotency-Key names the product and price at Stripe. Audited as `admin.plan_created`.",
        body: CreateBody,
        response: {
          201: described("The plan.", AdminPlan),
          ...adminWriteErrors([refused]),
        },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const plan = await createAdminPlan(
        services,
        {
          name: body.name,
          description: body.description,
          amount: body.amount,
          currency: body.currency,
          interval: body.interval === "year" ? "year" : "month",
          features: body.features ?? [],
          entitlements: body.entitlements,
          settings: {
            trialDays: body.trial_days,
            perSeat: body.per_seat,
            minQuantity: body.min_quantity,
            maxQuantity: body.max_quantity,
          },
        },
        stripeKeyOf(request),
      );
      reply.code(201);
      return plan;
    },
  );

  app.patch(
    "/api/admin/plans/:id/",
    {
      schema: {
        ...base,
        operationId: "admin_plans_update",
        summary: "Rename a plan, or change its description, features or entitlements.",
        description:
          "Name, description and features are its Stripe product's (every plan of that product " +
          "changes); entitlements its price's metadata. Stripe is written first, then the plans. " +
          "Audited as `admin.plan_updated`.",
        params: IdParams,
        body: EditBody,
        response: {
          200: described("The plan as it now is.", AdminPlan),
          ...adminWriteErrors([refused, notFound]),
        },
      },
    },
    async (request) => editAdminPlan(services, request.params.id, request.body),
  );

  app.post(
    "/api/admin/plans/:id/deactivate/",
    {
      schema: {
        ...base,
        operationId: "admin_plans_deactivate",
        summary: "Stop selling a plan; its subscriptions keep running.",
        description:
          "Archives its Stripe price (so `plans:sync` agrees) and marks the plan inactive. " +
          "Audited as `admin.plan_deactivated`.",
        params: IdParams,
        response: {
          200: described("The plan, inactive.", AdminPlan),
          ...adminWriteErrors([refused, notFound]),
        },
      },
    },
    async (request) => deactivateAdminPlan(services, request.params.id),
  );

  app.post(
    "/api/admin/plans/sync/",
    {
      schema: {
        ...base,
        operationId: "admin_plans_sync",
        summary: "Mirror Stripe's active recurring prices as plans (as `plans:sync` does).",
        description:
          "One plan per active monthly or yearly price; plans whose price is no longer active are " +
          "deactivated; a price whose metadata cannot be read is skipped and reported. Audited as " +
          "`admin.plans_synced`.",
        response: {
          200: described("What the sync did.", SyncResult),
          ...adminWriteErrors([refused]),
        },
      },
    },
    async () => syncAdminPlans(services),
  );
}
