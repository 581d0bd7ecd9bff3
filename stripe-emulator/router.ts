import type { Ctx } from "./context.ts";
import { checkExpand } from "./declarations/expandable.ts";
import { DECLARATIONS } from "./declarations/index.ts";
import { RETURNS } from "./declarations/returns.ts";
import { type Shape, validateParams } from "./declarations/schema.ts";
import { expandList, type Params } from "./params.ts";

export interface ApiRequest {
  method: string;
  path: string;
  /** Body (POST) or query (GET/DELETE), parsed the way the SDK encodes it. */
  params: Params;
  /** `:name` segments of the route. */
  args: Record<string, string>;
  ctx: Ctx;
}

/** Handlers return the response object (already rendered) or throw a StripeApiError. */
export type Handler = (req: ApiRequest) => unknown | Promise<unknown>;

export interface Route {
  method: "GET" | "POST" | "DELETE";
  path: string;
  handler: Handler;
}

interface CompiledRoute extends Route {
  regex: RegExp;
  names: string[];
  params: Shape;
  returns: string | undefined;
}

export class Router {
  #routes: CompiledRoute[] = [];

  add(routes: Route[]): void {
    for (const r of routes) {
      // Every endpoint has a declaration of its parameters (declarations/), or the emulator
      // does not start: a route cannot silently accept whatever it is sent.
      const params = DECLARATIONS[`${r.method} ${r.path}`];
      if (!params)
        throw new Error(
          `No parameter declaration for ${r.method} ${r.path}: add one in stripe-emulator/declarations/`,
        );
      const names: string[] = [];
      const pattern = r.path.replace(/:([a-z_]+)/g, (_m, name: string) => {
        names.push(name);
        return "([^/]+)";
      });
      const returns = RETURNS[`${r.method} ${r.path}`];
      this.#routes.push({ ...r, params, returns, regex: new RegExp(`^${pattern}/?$`), names });
    }
  }

  match(
    method: string,
    path: string,
  ): { handler: Handler; args: Record<string, string> } | undefined {
    for (const r of this.#routes) {
      if (r.method !== method) continue;
      const m = r.regex.exec(path);
      if (!m) continue;
      const args: Record<string, string> = {};
      r.names.forEach((name, i) => {
        args[name] = decodeURIComponent(m[i + 1] ?? "");
      });
      // `/v1/customers/search` and the like are Stripe's search endpoints, which the emulator
      // does not serve; no Stripe id is "search", so they are unknown paths, not missing objects.
      if (Object.values(args).includes("search")) continue;
      const handler: Handler = (req) => {
        validateParams(r.params, req.params);
        if (r.returns) checkExpand(r.returns, expandList(req.params));
        return r.handler(req);
      };
      return { handler, args };
    }
    return undefined;
  }
}
