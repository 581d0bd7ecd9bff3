import { readFile } from "node:fs/promises";
import type { AppDeps } from "../platform/feature.ts";
import { SELF_ONLY_CSP } from "../platform/http/security.ts";
import { storefrontOn } from "../platform/http/storefront-origin.ts";
import type { App } from "../platform/http/types.ts";

/**
 * The pages' paths: one HTML page, which the script turns into the view its path names. `/plans`
 * and `/billing` are the pages FRONTEND_URL's defaults point at (Checkout's return, the portal's),
 * so with FRONTEND_URL set to this server those land here too.
 */
export const PAGES = ["/", "/plans", "/billing", "/login", "/register"];

const ASSETS = {
  "storefront.js": "text/javascript; charset=utf-8",
  "storefront.css": "text/css; charset=utf-8",
  "favicon.svg": "image/svg+xml",
} as const;

// SELF_ONLY_CSP suits the page: the script is a module file and the
// page's state lives in it. Checkout and the portal are navigations (not restricted by a CSP);
// the PDFs are links.

const read = (name: string) => readFile(new URL(`./public/${name}`, import.meta.url), "utf8");

/** GET `/` (and the other pages) and the page's two assets, when STOREFRONT is on. */
export async function storefrontRoutes(app: App, deps: AppDeps): Promise<void> {
  if (!storefrontOn(deps.config)) return;
  const page = await read("index.html");
  const assets = await Promise.all(
    Object.entries(ASSETS).map(async ([name, type]) => ({ name, type, body: await read(name) })),
  );
  for (const path of PAGES) {
    app.get(path, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .type("text/html; charset=utf-8")
        .header("content-security-policy", SELF_ONLY_CSP)
        .header("cache-control", "no-cache")
        .send(page),
    );
  }
  for (const asset of assets) {
    app.get(`/storefront/${asset.name}`, { schema: { hide: true } }, async (_request, reply) =>
      reply.type(asset.type).header("cache-control", "no-cache").send(asset.body),
    );
  }
}
