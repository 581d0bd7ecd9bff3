import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { LogLines } from "./line-log.ts";

/** The project's root (this file is src/platform/api-bundle.ts). */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Where the bundles go: inside the project, so that the packages left out resolve from it. */
const DIR = join(ROOT, "node_modules", ".cache", "api-threads");
/** A bundle no process started from for this long belongs to code that is gone. */
const STALE_MS = 24 * 3600 * 1000;

/**
 * Left out of the bundle, imported from node_modules as they are: a native addon, packages that
 * read files of their own (PGlite's WASM, which API threads never open), and what an API thread
 * loads only when configured (ioredis for REDIS_URL), and esbuild (this file's, never run there).
 */
const EXTERNAL = [
  "@node-rs/argon2",
  "@electric-sql/pglite",
  "drizzle-orm/pglite",
  "ioredis",
  "esbuild",
];

/** The TypeScript sources, whose `import.meta.url` the bundle keeps pointing at their own file. */
const PROJECT_SOURCE = /\.ts$/;
/** This file, whose text names `import.meta.url` without using it (and which threads never run). */
const SELF = fileURLToPath(import.meta.url);

/**
 * The module the API threads run: `entry` (src/main.ts) and everything it imports, bundled by
 * esbuild into one ES module under node_modules/.cache/api-threads/, or `entry` itself when the
 * bundle cannot be built (logged). One module instead of about 1,300 takes each thread's live heap
 * from 43 to 31 MB (the per-module records and the sources' comments and types): 38 MiB less at the
 * tier's peak with two threads (docs/performance.md, "The API tier's memory"). Not minified: a
 * stack trace names the real functions, and the bundle marks each module's start with its path.
 *
 * The bundle is built at every start (about a second), so it is never stale, and named by its
 * content, so that an unchanged tree's threads reuse Node's compile cache and two processes
 * starting at once write the same file. A source module's `import.meta.url` is its own file's URL
 * in the bundle too (the migrations, the pages and the client files are found beside the sources).
 */
export async function apiThreadEntry(logger: LogLines, entry: URL): Promise<URL> {
  try {
    const started = performance.now();
    const file = await buildBundle(entry);
    logger.info(
      { bundle: relative(ROOT, file), ms: Math.round(performance.now() - started) },
      "API threads bundled",
    );
    return pathToFileURL(file);
  } catch (err) {
    logger.warn({ err }, "API threads run the sources: the bundle could not be built");
    return entry;
  }
}

async function buildBundle(entry: URL): Promise<string> {
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    external: EXTERNAL,
    write: false,
    logLevel: "silent",
    // The CommonJS packages' `require` of Node's modules, inside an ES module.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    plugins: [
      {
        name: "project-files",
        setup(build) {
          // The in-process Stripe emulator (a dynamic import API threads never reach: they refuse
          // it) stays out, as the production image does not hold it.
          build.onResolve({ filter: /stripe-emulator\// }, (args) => ({
            path: relative(DIR, join(args.resolveDir, args.path)).split("\\").join("/"),
            external: true,
          }));
          build.onLoad({ filter: PROJECT_SOURCE }, async (args) => {
            const source = await readFile(args.path, "utf8");
            if (
              args.path === SELF ||
              args.path.includes("/node_modules/") ||
              !source.includes("import.meta.url")
            ) {
              return undefined;
            }
            const own = JSON.stringify(relative(DIR, args.path).split("\\").join("/"));
            return {
              contents: source.replaceAll(
                "import.meta.url",
                `new URL(${own}, import.meta.url).href`,
              ),
              loader: "ts",
            };
          });
        },
      },
    ],
  });
  await esbuild.stop();
  const code = result.outputFiles[0]?.contents;
  if (!code) throw new Error("esbuild wrote no bundle");
  const name = `api-${createHash("sha256").update(code).digest("hex").slice(0, 16)}.mjs`;
  const file = join(DIR, name);
  await mkdir(DIR, { recursive: true });
  // Written aside and renamed: a process starting at the same time reads all of it or none.
  const partial = join(DIR, `${name}.${process.pid}.partial`);
  await writeFile(partial, code);
  await rename(partial, file);
  await removeStale(name);
  return file;
}

/** Removes the bundles no process started from for a day (code since changed). */
async function removeStale(current: string): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(DIR)) {
    if (name === current) continue;
    const file = join(DIR, name);
    const { mtimeMs } = await stat(file).catch(() => ({ mtimeMs: now }));
    if (now - mtimeMs > STALE_MS) await unlink(file).catch(() => {});
  }
}
