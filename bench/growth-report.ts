import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Explained } from "./growth-explain.ts";
import type { Run } from "./load.ts";
import { ROOT } from "./processes.ts";
import { machineAndSettings } from "./report.ts";

export const TARGETS = ["status", "paymentsFirst", "paymentsDeep", "webhook"] as const;
export type Target = (typeof TARGETS)[number];

export interface SizeResult {
  size: number;
  /** Row counts before the measurement (its webhook runs add a few thousand events). */
  tables: Record<string, number>;
  seedSeconds: number;
  /** Load average when this size's first and last slices started. */
  loadAverage: string;
  endpoints: Record<Target, Run>;
  explained: Record<string, Explained>;
}

export interface GrowthResults {
  date: string;
  command: string;
  machine: Record<string, string | number>;
  settings: Record<string, string | number>;
  sizes: SizeResult[];
}

/** A figure counts as flat when it is at most this times the smallest size's. */
export const FLAT = 1.25;

export const label = (n: number) =>
  n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n);

const ms = (v: number | undefined) => (v === undefined ? "–" : `${v.toFixed(2)} ms`);

function rowsOf(r: GrowthResults): [Target, string][] {
  const deep = r.settings.deepPage;
  const heavy = Number(r.settings.heavyUserPayments) + 1;
  return [
    ["status", "status `GET /api/subscriptions/status/`"],
    ["paymentsFirst", `payments page 1 \`GET /api/subscriptions/payments/\` (${heavy} payments)`],
    ["paymentsDeep", `payments page ${deep} \`GET /api/subscriptions/payments/?page=${deep}\``],
    ["webhook", "webhook intake `POST /api/webhooks/stripe/` (signed, new ids)"],
  ];
}

/** The worst ratio of a larger size's figure to the first size's, as "yes (+8 %)". */
export function flatness(values: number[]): { flat: boolean; text: string } {
  const [first, ...rest] = values;
  if (first === undefined || rest.length === 0 || first <= 0) return { flat: true, text: "–" };
  const worst = Math.max(...rest) / first;
  const change = Math.round((worst - 1) * 100);
  const flat = worst <= FLAT;
  const signed = `${change >= 0 ? "+" : ""}${change} %`;
  return { flat, text: flat ? `yes (${signed})` : `**no** (${signed})` };
}

export function growthMarkdown(r: GrowthResults): string {
  const s = r.settings;
  const sizes = r.sizes;
  const lines = [
    "# Growth benchmark",
    "",
    `Run ${r.date} with \`${r.command}\` on ${r.machine.database}.`,
    "",
    `One database per size, each with its own API process (${s.apiProcesses} process, WORKER=off), measured side by side: ${s.fixedRate} req/s offered by ${s.connections} connections, ${s.durationSeconds} s per size and endpoint in ${s.rounds} slices that alternate between the sizes (after a ${s.warmupSeconds} s warm-up), so the machine's drifting load falls on every size alike. Latency is each response's time in fractional ms from when it was due (\`paced\`: evenly spaced requests, no coordinated omission), the slices pooled. Flat: every larger size's figure at most ${FLAT}× the ${label(sizes[0]?.size ?? 0)} one.`,
    "",
    `| endpoint | ${sizes.map((x) => `${label(x.size)} p50 | ${label(x.size)} p99`).join(" | ")} | p50 flat | p99 flat |`,
    `|---|${sizes.map(() => "---:|---:").join("|")}|---|---|`,
  ];
  for (const [target, name] of rowsOf(r)) {
    const runs = sizes.map((x) => x.endpoints[target]);
    const cells = runs.map((run) => `${ms(run?.p50)} | ${ms(run?.p99)}`);
    const p50 = flatness(runs.map((run) => run?.p50 ?? 0)).text;
    const p99 = flatness(runs.map((run) => run?.p99 ?? 0)).text;
    lines.push(`| ${name} | ${cells.join(" | ")} | ${p50} | ${p99} |`);
  }
  const failures = sizes.flatMap((x) =>
    Object.entries(x.endpoints)
      .filter(([, run]) => run.failures > 0)
      .map(([t, run]) => `${label(x.size)} ${t}: ${run.failures} of ${run.requests}`),
  );
  lines.push("", `Failed requests (non-2xx, errors, timeouts): ${failures.join("; ") || "none"}.`);
  lines.push(
    "",
    "## Rows",
    "",
    `The heavy user (user 1) has ${s.heavyUserPayments} payments besides its own one, inserted among everybody else's so that they are spread over the table as a long-standing customer's are.`,
    "",
    "| size | users | subscriptions | payments | stripe_events | grown in | load average (first → last slice) |",
    "|---|---:|---:|---:|---:|---:|---|",
    ...sizes.map(
      (x) =>
        `| ${label(x.size)} | ${["users", "subscriptions", "payments", "stripe_events"].map((t) => x.tables[t] ?? 0).join(" | ")} | ${x.seedSeconds} s | ${x.loadAverage} |`,
    ),
  );
  const queries = Object.keys(sizes[0]?.explained ?? {});
  const last = sizes.at(-1);
  lines.push(
    "",
    "## Queries",
    "",
    "`EXPLAIN (ANALYZE, BUFFERS)` of the SQL each service function sent (captured, not copied), warm: pages touched at each size, which latency noise cannot blur.",
    "",
    `| query | ${sizes.map((x) => `${label(x.size)} pages`).join(" | ")} | ${label(last?.size ?? 0)} ms | plan at ${label(last?.size ?? 0)} |`,
    `|---|${sizes.map(() => "---:").join("|")}|---:|---|`,
    ...queries.map((q) => {
      const pages = sizes.map((x) => x.explained[q]?.buffers ?? "–");
      const at = last?.explained[q];
      return `| ${q} | ${pages.join(" | ")} | ${at?.ms ?? "–"} | ${at?.plan ?? ""} |`;
    }),
    "",
    ...machineAndSettings(r.machine, s),
  );
  return `${lines.join("\n")}\n`;
}

export async function writeGrowth(r: GrowthResults): Promise<void> {
  await writeFile(join(ROOT, "bench/growth.json"), `${JSON.stringify(r, null, 2)}\n`);
  await writeFile(join(ROOT, "bench/GROWTH.md"), growthMarkdown(r));
}
