import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { App } from "./types.ts";

export interface DocsOptions {
  title: string;
  version: string;
  description: string;
  tags: { name: string; description: string }[];
}

/** Where the ReDoc bundle lives in node_modules: the docs pages load nothing from the internet. */
const REDOC_BUNDLE = fileURLToPath(import.meta.resolve("redoc/bundles/redoc.standalone.js"));

const REDOC_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>API reference</title>
    <style>body { margin: 0; padding: 0; }</style>
  </head>
  <body>
    <redoc spec-url="/api/schema/" hide-download-button="false"></redoc>
    <script src="/api/redoc/redoc.standalone.js"></script>
  </body>
</html>
`;

// ReDoc's sidebar footer always loads the Redocly logo from a CDN; the policy keeps the page on
// this server (the logo then hides itself) and blocks anything else a bundle might reach for.
const REDOC_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
].join("; ");

/**
 * OpenAPI 3.1 built from the route schemas: JSON at /api/schema/, Swagger UI at /api/docs/,
 * ReDoc at /api/redoc/. Register before the routes so every route is collected.
 */
export async function registerDocs(app: App, options: DocsOptions): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: { title: options.title, version: options.version, description: options.description },
      components: {
        securitySchemes: {
          bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
        },
      },
      tags: options.tags,
    },
  });
  await app.register(swaggerUi, {
    routePrefix: "/api/docs",
    uiConfig: { validatorUrl: null, deepLinking: true },
    // Swagger UI must not fetch its "valid" badge from swagger.io: the docs work offline.
    validatorUrl: false,
  });

  app.get("/api/schema/", { schema: { hide: true } }, async () => app.swagger());
  app.get("/api/redoc/", { schema: { hide: true } }, async (_request, reply) =>
    reply
      .type("text/html; charset=utf-8")
      .header("content-security-policy", REDOC_CSP)
      .send(REDOC_PAGE),
  );
  let bundle: Promise<Buffer> | undefined;
  app.get("/api/redoc/redoc.standalone.js", { schema: { hide: true } }, async (_request, reply) => {
    bundle ??= readFile(REDOC_BUNDLE);
    return reply
      .type("application/javascript; charset=utf-8")
      .header("cache-control", "public, max-age=86400")
      .send(await bundle);
  });
}
