// A stand-in for src/main.ts in api-bundle.test.ts: modules in two folders that each find a file
// beside their source through import.meta.url, as the migrations and the pages do.
import { readFileSync } from "node:fs";
import { nestedFile } from "./nested/nested.ts";

export const entryFile = readFileSync(new URL("./beside-entry.txt", import.meta.url), "utf8");
export { nestedFile };
