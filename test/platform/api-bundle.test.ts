import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { apiThreadEntry } from "../../src/platform/api-bundle.ts";
import type { LogLines } from "../../src/platform/line-log.ts";
import { ROOT } from "../helpers/process.ts";

// apiThreadEntry (src/platform/api-bundle.ts) on a stand-in entry: the bundle's modules still find
// the files beside their sources, and a bundle that cannot be built leaves the sources, logged.
// startup.test.ts runs src/main.ts's own bundle in two threads.

function recorder() {
  const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
  const at =
    (level: string) =>
    (fields: object | string, msg?: string): void => {
      lines.push(
        typeof fields === "string"
          ? { level, fields: {}, msg: fields }
          : { level, fields: fields as Record<string, unknown>, msg: msg ?? "" },
      );
    };
  const logger: LogLines = {
    fatal: at("fatal"),
    error: at("error"),
    warn: at("warn"),
    info: at("info"),
  };
  return { logger, lines };
}

test("the bundle is one module whose parts read the files beside their own sources", async () => {
  const { logger, lines } = recorder();
  const entry = new URL("./api-bundle-fixture/entry.ts", import.meta.url);
  const bundle = await apiThreadEntry(logger, entry);
  assert.notEqual(bundle.href, entry.href);
  assert.match(
    relative(ROOT, fileURLToPath(bundle)),
    /^node_modules\/\.cache\/api-threads\/api-[0-9a-f]{16}\.mjs$/,
  );
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg]),
    [["info", "API threads bundled"]],
  );
  // Both modules are in it, neither imported from the sources.
  const code = await readFile(bundle, "utf8");
  assert.match(code, /beside-entry\.txt/);
  assert.match(code, /beside-nested\.txt/);
  const loaded = (await import(bundle.href)) as { entryFile: string; nestedFile: string };
  assert.equal(loaded.entryFile, "entry's own");
  assert.equal(loaded.nestedFile, "nested's own");
  // The same sources give the same file (named by its content).
  assert.equal((await apiThreadEntry(recorder().logger, entry)).href, bundle.href);
});

test("an entry that cannot be bundled leaves the sources, with the reason at warn", async () => {
  const { logger, lines } = recorder();
  const entry = new URL("./api-bundle-fixture/missing.ts", import.meta.url);
  assert.equal((await apiThreadEntry(logger, entry)).href, entry.href);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.level, "warn");
  assert.equal(lines[0]?.msg, "API threads run the sources: the bundle could not be built");
  assert.match(String(lines[0]?.fields.reason), /missing\.ts/);
});
