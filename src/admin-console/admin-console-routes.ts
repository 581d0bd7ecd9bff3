import { readdir, readFile } from "node:fs/promises";
import { extname, sep } from "node:path";
import type { AppDeps } from "../platform/feature.ts";
import { SELF_ONLY_CSP } from "../platform/http/security.ts";
import type { App } from "../platform/http/types.ts";

const PUBLIC = new URL("./public/", import.meta.url);

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

// SELF_ONLY_CSP suits the console: its modules and the typed
// client (/client/) are files served by this app, and the console calls only the API.

/** Every file under public/, as paths relative to it (`pages/users.js`). */
async function files(): Promise<string[]> {
  const paths = await readdir(PUBLIC, { recursive: true });
  return paths.map((path) => path.split(sep).join("/")).filter((path) => extname(path) in TYPES);
}

/**
 * GET `/admin/` (the one HTML page; its script routes on the URL's hash) and each static file of
 * the console at `/admin/<path>`, read once at start-up. ADMIN_CONSOLE=off registers nothing, so
 * every `/admin/` path is the app's 404.
 */
export async function adminConsoleRoutes(app: App, deps: AppDeps): Promise<void> {
  if (!deps.config.ADMIN_CONSOLE) return;
  const served = await Promise.all(
    (await files()).map(async (path) => ({
      path,
      type: TYPES[extname(path)] ?? "application/octet-stream",
      body: await readFile(new URL(path, PUBLIC)),
    })),
  );
  const page = served.find((file) => file.path === "index.html");
  if (!page) throw new Error("src/admin-console/public/index.html is missing");
  for (const file of served) {
    const url = file.path === "index.html" ? "/admin/" : `/admin/${file.path}`;
    app.get(url, { schema: { hide: true } }, async (_request, reply) => {
      if (file.type.startsWith("text/html")) {
        reply.header("content-security-policy", SELF_ONLY_CSP);
      }
      return reply.type(file.type).header("cache-control", "no-cache").send(file.body);
    });
  }
}
