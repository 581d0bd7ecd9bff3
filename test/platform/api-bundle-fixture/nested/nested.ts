import { readFileSync } from "node:fs";

export const nestedFile = readFileSync(new URL("./beside-nested.txt", import.meta.url), "utf8");
