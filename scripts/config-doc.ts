import { writeFile } from "node:fs/promises";
import { settings } from "../src/config.ts";

/**
 * docs/configuration.md, rendered from the settings table in src/config.ts: the one list of
 * settings, so the page cannot drift from what the service reads. `npm run docs:config` writes
 * it; test/config-doc.test.ts fails when the committed page differs from this rendering.
 */

export const CONFIGURATION_DOC = new URL("../docs/configuration.md", import.meta.url);

const UNITS: [seconds: number, name: string][] = [
  [86400, "day"],
  [3600, "hour"],
  [60, "min"],
  [1, "s"],
];

/** A rate setting's default as it is written in the environment: `20/min`, `50/day`. */
function rateText(max: number, windowSeconds: number): string {
  for (const [seconds, name] of UNITS) {
    if (windowSeconds % seconds !== 0) continue;
    const count = windowSeconds / seconds;
    return count === 1 ? `${max}/${name}` : `${max}/${count}${name}`;
  }
  return `${max}/${windowSeconds}s`;
}

function defaultText(name: string, value: unknown): string {
  // The development key is public, and a page that shows it invites pasting it elsewhere.
  if (name === "SECRET_KEY") return "a public development value";
  if (value === undefined) return "unset";
  if (Array.isArray(value)) return value.length === 0 ? "none" : `\`${value.join(",")}\``;
  if (typeof value === "object" && value !== null && "max" in value && "windowSeconds" in value) {
    return `\`${rateText(Number(value.max), Number(value.windowSeconds))}\``;
  }
  return `\`${String(value)}\``;
}

/** A table cell: a `|` would end the cell. */
const cell = (text: string): string => text.replaceAll("|", "\\|");

export function configurationDoc(): string {
  const rows = Object.entries(settings).map(([name, setting]) => {
    const fallback = "default" in setting ? setting.default : undefined;
    return `| \`${name}\` | ${cell(defaultText(name, fallback))} | ${cell(setting.doc)} |`;
  });
  return [
    "# Configuration",
    "",
    "<!-- Generated from the settings table in src/config.ts by `npm run docs:config`;",
    "     test/config-doc.test.ts fails when this page and the table differ. Edit the table. -->",
    "",
    "Every setting is an environment variable, also read from `.env` when present (`.env.example`",
    "lists them all with a comment each). The settings are read once at start, validated and",
    "frozen; bad values stop the process with one line per problem, and production refuses unsafe",
    "or missing ones, all listed at once ([architecture.md](architecture.md#modes-and-scale-out)).",
    "",
    "| variable | default | meaning |",
    "|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.main) {
  await writeFile(CONFIGURATION_DOC, configurationDoc());
  process.stdout.write(`wrote ${CONFIGURATION_DOC.pathname}\n`);
}
