import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { invalidParam, invalidRequest, noSuchObject } from "../errors.ts";
import { matchesRange, paginate } from "../lists.ts";
import { optArr, optStr, type Params } from "../params.ts";
import type { Route } from "../router.ts";

function listEvents(ctx: Ctx, p: Params): Stripe.EventBase[] {
  const type = optStr(p, "type");
  const types = optArr(p, "types")?.map(String);
  // Stripe's refusals: one filter or the other, and at most 20 names.
  if (type !== undefined && types !== undefined) {
    throw invalidRequest("You may pass either `type` or `types`, but not both.");
  }
  if (types !== undefined && types.length > 20) {
    throw invalidParam("types", "`types` accepts at most 20 event types.");
  }
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
];
