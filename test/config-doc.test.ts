import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { CONFIGURATION_DOC, configurationDoc } from "../scripts/config-doc.ts";

test("docs/configuration.md is the rendering of the settings table (npm run docs:config)", async () => {
  const committed = await readFile(CONFIGURATION_DOC, "utf8");
  assert.equal(committed, configurationDoc(), "run `npm run docs:config` and commit the page");
});
