import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const hooks = new URL("../../src/platform/module-hooks.ts", import.meta.url).pathname;
const recorder = new URL("../fixtures/record-resolutions.ts", import.meta.url).pathname;

/** Each drizzle-orm entry point the app imports, PGlite's included. */
const ENTRY_POINTS = [
  "drizzle-orm",
  "drizzle-orm/pg-core",
  "drizzle-orm/node-postgres",
  "drizzle-orm/node-postgres/migrator",
  "drizzle-orm/pglite",
  "drizzle-orm/pglite/migrator",
];

/** The drizzle-orm modules a process resolves importing ENTRY_POINTS, and their formats. */
async function resolutions(withHooks: boolean): Promise<[string, string][]> {
  const script = ENTRY_POINTS.map((e) => `await import(${JSON.stringify(e)});`).join("\n");
  const { stdout } = await run(process.execPath, [
    ...(withHooks ? [`--import=${hooks}`] : []),
    `--import=${recorder}`,
    "--input-type=module",
    "-e",
    script,
  ]);
  return JSON.parse(stdout);
}

test("the module hooks resolve drizzle-orm's modules exactly as Node does", async () => {
  const [plain, hooked] = await Promise.all([resolutions(false), resolutions(true)]);
  assert.ok(plain.length > 100, `only ${plain.length} drizzle-orm modules resolved`);
  assert.ok(plain.every(([, format]) => format === "module"));
  assert.deepEqual(hooked, plain);
});
