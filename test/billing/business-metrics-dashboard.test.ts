import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { ROOT } from "../helpers/process.ts";

// docs/grafana-dashboard.json and the PromQL of docs/operations.md name metrics; a metric renamed
// or removed in the code would leave a panel empty without anyone noticing. So every name they
// use must be one /metrics exposes.

/** PromQL words that read like names: keywords, and aggregations (followed by `by (…)`). */
const KEYWORDS = new Set(
  (
    "by without on ignoring group_left group_right bool and or unless offset " +
    "sum min max avg group stddev stdvar count count_values bottomk topk quantile"
  ).split(" "),
);

/** The metric names a PromQL expression reads: identifiers that are not functions, keywords or labels. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "$1");
  return [...bare.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)]
    .filter((m) => m[2] === undefined && !KEYWORDS.has(m[1] ?? ""))
    .map((m) => m[1] ?? "");
}

/** Every sample name `/metrics` can show: each metric's, and a histogram's series. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m;
    if (!name) continue;
    names.add(name);
    if (type === "histogram") for (const s of ["_bucket", "_count", "_sum"]) names.add(name + s);
  }
  return names;
}

let t: TestApp;
before(async () => {
  t = await startTestApp({ worker: false });
});
after(() => t.close());

test("the dashboard's and the operations page's queries name only metrics /metrics exposes", async () => {
  const dashboard = JSON.parse(await readFile(join(ROOT, "docs/grafana-dashboard.json"), "utf8"));
  assert.equal(typeof dashboard.title, "string");
  const exprs: string[] = [];
  for (const panel of dashboard.panels as { type: string; targets?: { expr: string }[] }[]) {
    assert.ok(panel.type === "row" || (panel.targets?.length ?? 0) > 0, "a panel with a query");
    for (const target of panel.targets ?? []) exprs.push(target.expr);
  }
  const operations = await readFile(join(ROOT, "docs/operations.md"), "utf8");
  for (const block of operations.matchAll(/```promql\n([\s\S]*?)```/g)) {
    exprs.push(...(block[1] ?? "").split("\n").filter(Boolean));
  }

  const res = await t.app.inject({ method: "GET", url: "/metrics" });
  const exposed = exposedNames(res.body);
  const named = new Set(exprs.flatMap(metricNames));
  for (const business of [
    "billing_mrr",
    "billing_subscriptions",
    "billing_payment_recovery_ratio",
  ]) {
    assert.ok(named.has(business), `the queries show ${business}`);
  }
  const missing = [...named].filter((name) => !exposed.has(name));
  assert.deepEqual(missing, [], `named in the queries but not in /metrics`);
});

test("metricNames reads the names out of PromQL", () => {
  assert.deepEqual(
    metricNames(
      'histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{status=~"5.."}[5m])))',
    ),
    ["http_request_duration_seconds_bucket"],
  );
  assert.deepEqual(
    metricNames("time() - max(billing_metrics_computed_timestamp_seconds) > 3 * 300"),
    ["billing_metrics_computed_timestamp_seconds"],
  );
  assert.deepEqual(metricNames("max(billing_mrr offset 30d)"), ["billing_mrr"]);
});
