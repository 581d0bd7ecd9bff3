import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import swagger from "@fastify/swagger";
import { errorSchemas } from "./error-schemas.ts";
import { detailError } from "./errors.ts";
import { finishDocument, markOptionalBody } from "./openapi.ts";
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

// One policy for both pages: everything from this server. ReDoc's sidebar footer always loads the
// Redocly logo from a CDN; the policy keeps it off (the logo then hides itself). Both bundles set
// inline styles, ReDoc runs its search in a blob: worker.
const DOCS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'self'",
].join("; ");

const SWAGGER_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>API docs</title>
    <link rel="stylesheet" href="/api/docs/static/swagger-ui.css">
    <link rel="stylesheet" href="/api/docs/static/index.css">
    <link rel="icon" type="image/png" href="/api/docs/static/favicon-32x32.png" sizes="32x32">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/api/docs/static/swagger-ui-bundle.js"></script>
    <script src="/api/docs/static/swagger-ui-standalone-preset.js"></script>
    <script src="/api/docs/static/swagger-initializer.js"></script>
  </body>
</html>
`;

// A file, not an inline script, so the policy needs no 'unsafe-inline' for scripts. The top bar
// shows and loads the document's one address; no "valid" badge from swagger.io (docs work offline).
const SWAGGER_INITIALIZER = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/api/schema/",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
    validatorUrl: null,
  });
};
`;

/**
 * Swagger UI's files, by name. Only these are served: a name is looked up, never joined to a
 * directory, so "../../etc/passwd", "%2e%2e" or "%00" is an unknown name and a plain 404.
 */
const SWAGGER_ASSETS = new Map(
  Object.entries({
    "swagger-ui.css": "text/css; charset=utf-8",
    "index.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
    "swagger-ui-standalone-preset.js": "application/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
  }).map(([name, type]) => [
    name,
    { type, path: fileURLToPath(import.meta.resolve(`swagger-ui-dist/${name}`)) },
  ]),
);

/**
 * OpenAPI 3.1 built from the route schemas: JSON at /api/schema/, Swagger UI at /api/docs/,
 * ReDoc at /api/redoc/. Register before the routes so every route is collected.
 */
export async function registerDocs(app: App, options: DocsOptions): Promise<void> {
  for (const schema of errorSchemas) app.addSchema(schema);
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: { title: options.title, version: options.version, description: options.description },
      // Relative: the document describes whichever host serves it.
      servers: [{ url: "/", description: "The server this document came from." }],
      components: {
        securitySchemes: {
          bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
          serviceToken: {
            type: "http",
            scheme: "bearer",
            description: "One of SERVICE_TOKENS: the app's other services (internal routes).",
          },
        },
      },
      tags: options.tags,
    },
    // Shared schemas keep their names as components (`#/components/schemas/ErrorMessage`), not
    // "def-0".
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`),
    },
    transform: markOptionalBody,
    transformObject: finishDocument,
  });
  app.get("/api/schema/", { schema: { hide: true } }, async () => app.swagger());
  app.get("/api/redoc/", { schema: { hide: true } }, async (_request, reply) =>
    reply
      .type("text/html; charset=utf-8")
      .header("content-security-policy", DOCS_CSP)
      .send(REDOC_PAGE),
  );
  app.get("/api/docs/", { schema: { hide: true } }, async (_request, reply) =>
    reply
      .type("text/html; charset=utf-8")
      .header("content-security-policy", DOCS_CSP)
      .send(SWAGGER_PAGE),
  );
  app.get("/api/docs/static/swagger-initializer.js", { schema: { hide: true } }, (_, reply) =>
    reply.type("application/javascript; charset=utf-8").send(SWAGGER_INITIALIZER),
  );
  app.get<{ Params: { file: string } }>(
    "/api/docs/static/:file",
    { schema: { hide: true } },
    async (request, reply) => {
      const asset = SWAGGER_ASSETS.get(request.params.file);
      if (!asset) throw detailError("not_found", "Not found.");
      return reply
        .type(asset.type)
        .header("cache-control", "public, max-age=86400")
        .send(createReadStream(asset.path));
    },
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
