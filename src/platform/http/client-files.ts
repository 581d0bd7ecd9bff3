import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { detailError } from "./errors.ts";
import type { App } from "./types.ts";

/** The typed client's ES modules (clients/typescript/src, docs/client.md). */
const CLIENT_SOURCES = new URL("../../../clients/typescript/src/", import.meta.url);

/**
 * index.js imports openapi-fetch as "./openapi-fetch.js": under Node that file re-exports the
 * package; served here, it is the package's own ES module file, so a browser needs no import map.
 */
const OPENAPI_FETCH = fileURLToPath(import.meta.resolve("openapi-fetch"));

interface ClientFile {
  body: Buffer;
  etag: string;
}

async function clientFile(path: string): Promise<ClientFile> {
  const body = await readFile(path);
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
  return { body, etag };
}

/** Every `.js` file of the client's sources, by name, with openapi-fetch's in place of the shim. */
async function clientFiles(): Promise<Map<string, ClientFile>> {
  const names = (await readdir(CLIENT_SOURCES)).filter((name) => name.endsWith(".js"));
  const files = new Map<string, ClientFile>();
  for (const name of names) {
    files.set(name, await clientFile(fileURLToPath(new URL(name, CLIENT_SOURCES))));
  }
  files.set("openapi-fetch.js", await clientFile(OPENAPI_FETCH));
  return files;
}

/**
 * GET /client/<name>.js: the typed client for the app's own pages (`import {createBillingClient}
 * from "/client/index.js"`). The files are read once at start and looked up by name, never joined
 * to a directory, so "../", "%2e%2e" or "%00" is an unknown name and a plain 404. Their names do
 * not change with their content, so browsers revalidate each time (a 304 for an unchanged ETag).
 */
export async function registerClientFiles(app: App): Promise<void> {
  const files = await clientFiles();
  app.get<{ Params: { file: string } }>(
    "/client/:file",
    { schema: { hide: true } },
    async (request, reply) => {
      const file = files.get(request.params.file);
      if (!file) throw detailError("not_found", "Not found.");
      reply
        .type("text/javascript; charset=utf-8")
        .header("cache-control", "no-cache")
        .header("etag", file.etag);
      if (request.headers["if-none-match"] === file.etag) return reply.code(304).send();
      return reply.send(file.body);
    },
  );
}
