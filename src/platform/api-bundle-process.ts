import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { type BundleMessage, ROOT } from "./api-bundle.ts";

// Bundles the API threads' entry (argv[2]) and answers the bundle's path to the supervisor that
// forked it (api-bundle.ts), then exits. A file of its own so that the supervisor never loads
// esbuild nor holds its output.
//
// The bundle is named by its content, so that an unchanged tree's threads reuse Node's compile
// cache and two processes starting at once write the same file. A source module's
// `import.meta.url` is its own file's URL in the bundle too (the migrations, the pages and the
// client files are found beside the sources).

/** Where the bundles go: inside the project, so that the packages left out resolve from it. */
const DIR = join(ROOT, "node_modules", ".cache", "api-threads");
/** A bundle no process started from for this long belongs to code that is gone. */
const STALE_MS = 24 * 3600 * 1000;

/**
 * Left out of the bundle, imported from node_modules as they are: a native addon, packages that
 * read files of their own (PGlite's WASM, which API threads never open), and what an API thread
 * loads only when configured (ioredis for REDIS_URL).
 */
const EXTERNAL = ["@node-rs/argon2", "@electric-sql/pglite", "drizzle-orm/pglite", "ioredis"];

/** The TypeScript sources, whose `import.meta.url` the bundle keeps pointing at their own file. */
const PROJECT_SOURCE = /\.ts$/;

async function buildBundle(entry: string): Promise<string> {
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    external: EXTERNAL,
    write: false,
    logLevel: "silent",
    // Measured with `bench:tier` (two threads, peak): the bundle as written 293 MiB, without its
    // whitespace and with its syntax shortened 262, with shortened names too 252. Names are kept:
    // a stack trace from a thread names the functions it went through.
    minifyWhitespace: true,
    minifySyntax: true,
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
            if (args.path.includes("/node_modules/") || !source.includes("import.meta.url")) {
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

const send = (message: BundleMessage) =>
  new Promise<void>((resolve) => {
    if (process.send) process.send(message, () => resolve());
    else resolve();
  });

const entry = process.argv[2];
try {
  if (!entry) throw new Error("no entry module given");
  await send({ file: await buildBundle(entry) });
} catch (err) {
  await send({ error: err instanceof Error ? err.message : String(err) });
}
process.exit(0);
