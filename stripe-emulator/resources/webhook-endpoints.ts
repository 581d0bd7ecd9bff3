import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { invalidParam, invalidRequest, missingParam, noSuchObject } from "../errors.ts";
import { enabledEventNames } from "../event-types.ts";
import { newId, randomToken } from "../ids.ts";
import { paginate } from "../lists.ts";
import {
  expandList,
  mergeMetadata,
  optArr,
  optBool,
  optNullableStr,
  optStr,
  type Params,
  reqStr,
} from "../params.ts";
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

/** `enabled_events` as Stripe takes it: a non-empty list of `*` or known event types. */
function enabledEvents(p: Params, required: boolean): string[] | undefined {
  const list = optArr(p, "enabled_events");
  if (list === undefined || list.length === 0) {
    if (required) throw missingParam("enabled_events");
    return undefined;
  }
  const names = enabledEventNames();
  return list.map((value, i) => {
    if (typeof value !== "string" || !names.has(value)) {
      throw invalidRequest(
        `Invalid enabled_events[${i}]: must be '*' or one of the ${names.size - 1} event types (got '${String(value)}')`,
        `enabled_events[${i}]`,
      );
    }
    return value;
  });
}

/** The endpoint URL: an absolute http(s) URL. */
function endpointUrl(p: Params, required: boolean): string | undefined {
  const url = required ? reqStr(p, "url") : optStr(p, "url");
  if (url === undefined) return undefined;
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    throw invalidParam("url", `Invalid URL: ${url}`);
  }
  return url;
}

function getEndpoint(ctx: Ctx, id: string): Stripe.WebhookEndpoint {
  const endpoint = ctx.state.webhookEndpoints[id];
  if (!endpoint) throw noSuchObject(id);
  return endpoint;
}

export const webhookEndpointRoutes: Route[] = [
  {
    method: "POST",
    path: "/v1/webhook_endpoints",
    handler: ({ ctx, params }) => {
      const url = endpointUrl(params, true) ?? "";
      const events = enabledEvents(params, true) ?? [];
      const endpoint = createEndpoint(ctx, url, events, undefined, params);
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
    handler: ({ ctx, params, args }) =>
      render(ctx.state, getEndpoint(ctx, args.id ?? ""), expandList(params)),
  },
  {
    method: "POST",
    path: "/v1/webhook_endpoints/:id",
    handler: ({ ctx, params, args }) => {
      const endpoint = getEndpoint(ctx, args.id ?? "");
      const url = endpointUrl(params, false);
      const events = enabledEvents(params, false);
      const disabled = optBool(params, "disabled");
      const description = optNullableStr(params, "description");
      if (url !== undefined) endpoint.url = url;
      if (events !== undefined) endpoint.enabled_events = events;
      if (disabled !== undefined) endpoint.status = disabled ? "disabled" : "enabled";
      if (description !== undefined) endpoint.description = description;
      endpoint.metadata = mergeMetadata(endpoint.metadata, params);
      return render(ctx.state, endpoint, expandList(params));
    },
  },
  {
    method: "GET",
    path: "/v1/webhook_endpoints",
    handler: ({ ctx, params }) =>
      render(
        ctx.state,
        paginate(Object.values(ctx.state.webhookEndpoints), params, "/v1/webhook_endpoints"),
        expandList(params),
      ),
  },
  {
    method: "DELETE",
    path: "/v1/webhook_endpoints/:id",
    handler: ({ ctx, args }) => {
      const id = getEndpoint(ctx, args.id ?? "").id;
      delete ctx.state.webhookEndpoints[id];
      delete ctx.state.endpointSecrets[id];
      return { id, object: "webhook_endpoint", deleted: true };
    },
  },
];
