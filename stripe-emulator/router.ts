import type { Ctx } from "./context.ts";
import type { Params } from "./params.ts";

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
}

export class Router {
  #routes: CompiledRoute[] = [];

  add(routes: Route[]): void {
    for (const r of routes) {
      const names: string[] = [];
      const pattern = r.path.replace(/:([a-z_]+)/g, (_m, name: string) => {
        names.push(name);
        return "([^/]+)";
      });
      this.#routes.push({ ...r, regex: new RegExp(`^${pattern}/?$`), names });
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
      return { handler: r.handler, args };
    }
    return undefined;
  }
}
