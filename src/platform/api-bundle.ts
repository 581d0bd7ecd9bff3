import { fork } from "node:child_process";
import { relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { LogLines } from "./line-log.ts";

/** The project's root (this file is src/platform/api-bundle.ts). */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** What api-bundle-process.ts sends back: the bundle's path, or why there is none. */
export type BundleMessage = { file: string } | { error: string };

/**
 * The module the API threads run: `entry` (src/main.ts) and everything it imports, bundled by
 * esbuild into one ES module under node_modules/.cache/api-threads/, or `entry` itself when the
 * bundle cannot be built (logged). One module of 4.8 MB instead of about 1,300 files and 11 MB of
 * sources: the tier of two threads peaks at 262 MiB instead of 293-296 (docs/performance.md, "The
 * API tier's memory"). Whitespace is removed but names are kept, so a stack trace names the
 * functions it went through.
 *
 * Built at every start (about a second, beside the migrations), so it is never stale, by a process
 * of its own (api-bundle-process.ts): esbuild's output passed through the supervisor's heap would
 * stay there, as an idle supervisor never collects garbage (37 MiB more at rest in `bench:tier`).
 */
export async function apiThreadEntry(logger: LogLines, entry: URL): Promise<URL> {
  const started = performance.now();
  const message = await new Promise<BundleMessage>((resolve) => {
    const child = fork(new URL("./api-bundle-process.ts", import.meta.url), [fileURLToPath(entry)]);
    child.once("message", (m) => resolve(m as BundleMessage));
    child.once("error", (err) => resolve({ error: err.message }));
    // After its messages: a process that ended without answering.
    child.once("close", (code) =>
      resolve({ error: `the bundling process exited with code ${code}` }),
    );
  });
  if ("error" in message) {
    logger.warn(
      { reason: message.error },
      "API threads run the sources: the bundle could not be built",
    );
    return entry;
  }
  logger.info(
    { bundle: relative(ROOT, message.file), ms: Math.round(performance.now() - started) },
    "API threads bundled",
  );
  return pathToFileURL(message.file);
}
