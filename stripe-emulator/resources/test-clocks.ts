import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { invalidParam, noSuchObject } from "../errors.ts";
import { newId } from "../ids.ts";
import { paginate } from "../lists.ts";
import { optStr, type Params, reqStr } from "../params.ts";
import type { Route } from "../router.ts";

export function getClock(ctx: Ctx, id: string): Stripe.TestHelpers.TestClock {
  const c = ctx.state.testClocks[id];
  if (!c) throw noSuchObject(id);
  return c;
}

function create(ctx: Ctx, p: Params): Stripe.TestHelpers.TestClock {
  const frozen = Number(reqStr(p, "frozen_time"));
  if (!Number.isInteger(frozen)) throw invalidParam("frozen_time", "Invalid integer: frozen_time");
  const now = ctx.now();
  const clock: Stripe.TestHelpers.TestClock = {
    id: newId("clock"),
    object: "test_helpers.test_clock",
    created: now,
    deletes_after: now + 30 * 86_400,
    frozen_time: frozen,
    livemode: false,
    name: optStr(p, "name") ?? null,
    status: "ready",
    status_details: {},
  };
  ctx.state.testClocks[clock.id] = clock;
  return clock;
}

/** Deleting a clock deletes its customers (and so ends their subscriptions), as Stripe does. */
function remove(ctx: Ctx, id: string): Stripe.TestHelpers.DeletedTestClock {
  getClock(ctx, id);
  for (const c of Object.values(ctx.state.customers)) {
    if (c.test_clock === id) {
      delete ctx.state.customers[c.id];
      ctx.state.deletedCustomers[c.id] = { id: c.id, object: "customer", deleted: true };
    }
  }
  delete ctx.state.testClocks[id];
  return { id, object: "test_helpers.test_clock", deleted: true };
}

/** Advancing is synchronous here: the response is already `ready` (Stripe answers `advancing`). */
export type ClockAdvancer = (clock: Stripe.TestHelpers.TestClock, target: number) => void;

export function testClockRoutes(advance: ClockAdvancer): Route[] {
  return [
    {
      method: "POST",
      path: "/v1/test_helpers/test_clocks",
      handler: ({ ctx, params }) => create(ctx, params),
    },
    {
      method: "GET",
      path: "/v1/test_helpers/test_clocks/:id",
      handler: ({ ctx, args }) => getClock(ctx, args.id ?? ""),
    },
    {
      method: "GET",
      path: "/v1/test_helpers/test_clocks",
      handler: ({ ctx, params }) =>
        paginate(Object.values(ctx.state.testClocks), params, "/v1/test_helpers/test_clocks"),
    },
    {
      method: "DELETE",
      path: "/v1/test_helpers/test_clocks/:id",
      handler: ({ ctx, args }) => remove(ctx, args.id ?? ""),
    },
    {
      method: "POST",
      path: "/v1/test_helpers/test_clocks/:id/advance",
      handler: ({ ctx, params, args }) => {
        const clock = getClock(ctx, args.id ?? "");
        const target = Number(reqStr(params, "frozen_time"));
        if (!Number.isInteger(target) || target <= clock.frozen_time) {
          throw invalidParam(
            "frozen_time",
            "The frozen time must be after the test clock's current frozen time.",
          );
        }
        ctx.emit("test_helpers.test_clock.advancing", { ...clock, status: "advancing" });
        advance(clock, target);
        ctx.emit("test_helpers.test_clock.ready", clock);
        return clock;
      },
    },
  ];
}
