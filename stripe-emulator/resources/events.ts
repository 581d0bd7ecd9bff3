import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { noSuchObject } from "../errors.ts";
import { newId, randomToken } from "../ids.ts";
import { matchesRange, paginate } from "../lists.ts";
import { expandList, mergeMetadata, optArr, optStr, type Params, reqStr } from "../params.ts";
import { render } from "../render.ts";
import type { Route } from "../router.ts";

export function createEndpoint(
  ctx: Ctx,
  url: string,
  events: string[],
  secret?: string,
  p: Params = {},
): Stripe.WebhookEndpoint {
  const endpoint: Stripe.WebhookEndpoint = {
    id: newId("we"),
    object: "webhook_endpoint",
    api_version: optStr(p, "api_version") ?? null,
    application: null,
    created: ctx.now(),
    description: optStr(p, "description") ?? null,
    enabled_events: events,
    livemode: false,
    metadata: mergeMetadata({}, p),
    status: "enabled",
    url,
  };
  ctx.state.webhookEndpoints[endpoint.id] = endpoint;
  ctx.state.endpointSecrets[endpoint.id] = secret ?? `whsec_${randomToken(32)}`;
  return endpoint;
}

function listEvents(ctx: Ctx, p: Params): Stripe.EventBase[] {
  const type = optStr(p, "type");
  const types = optArr(p, "types")?.map(String);
  return Object.values(ctx.state.events).filter((e) => {
    if (type !== undefined && !matchType(e.type, type)) return false;
    if (types !== undefined && !types.includes(e.type)) return false;
    return matchesRange(e.created, p.created);
  });
}

/** `type` accepts a `*` wildcard, e.g. `invoice.*`. */
function matchType(actual: string, pattern: string): boolean {
  if (!pattern.includes("*")) return actual === pattern;
  const re = new RegExp(`^${pattern.split("*").map(escapeRegex).join(".*")}$`);
  return re.test(actual);
}

function escapeRegex(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}

export const eventRoutes: Route[] = [
  {
    method: "GET",
    path: "/v1/events/:id",
    handler: ({ ctx, args }) => {
      const e = ctx.state.events[args.id ?? ""];
      if (!e) throw noSuchObject(args.id ?? "");
      return e;
    },
  },
  {
    method: "GET",
    path: "/v1/events",
    handler: ({ ctx, params }) => paginate(listEvents(ctx, params), params, "/v1/events"),
  },
  {
    method: "POST",
    path: "/v1/webhook_endpoints",
    handler: ({ ctx, params }) => {
      const events = (optArr(params, "enabled_events") ?? ["*"]).map(String);
      const endpoint = createEndpoint(ctx, reqStr(params, "url"), events, undefined, params);
      // The secret is shown only in the creation response, as Stripe does.
      return {
        ...render(ctx.state, endpoint, expandList(params)),
        secret: ctx.state.endpointSecrets[endpoint.id],
      };
    },
  },
  {
    method: "GET",
    path: "/v1/webhook_endpoints/:id",
    handler: ({ ctx, args }) => {
      const e = ctx.state.webhookEndpoints[args.id ?? ""];
      if (!e) throw noSuchObject(args.id ?? "");
      return e;
    },
  },
  {
    method: "GET",
    path: "/v1/webhook_endpoints",
    handler: ({ ctx, params }) =>
      paginate(Object.values(ctx.state.webhookEndpoints), params, "/v1/webhook_endpoints"),
  },
  {
    method: "DELETE",
    path: "/v1/webhook_endpoints/:id",
    handler: ({ ctx, args }) => {
      const id = args.id ?? "";
      if (!ctx.state.webhookEndpoints[id]) throw noSuchObject(id);
      delete ctx.state.webhookEndpoints[id];
      delete ctx.state.endpointSecrets[id];
      return { id, object: "webhook_endpoint", deleted: true };
    },
  },
];
