import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createBillingClient, unwrap } from "../../clients/typescript/src/index.js";
import { freshDataDir } from "../helpers/database.ts";
import { freePort, ROOT, runCli, startProcess } from "../helpers/process.ts";
import { waitFor } from "../helpers/wait.ts";

function has(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The bash block between the walkthrough markers of a document. */
async function walkthroughBlock(file: string): Promise<string> {
  const doc = await readFile(join(ROOT, file), "utf8");
  const section =
    /<!-- walkthrough:start -->\s*```bash\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(doc);
  if (!section?.[1]) throw new Error(`${file} has no walkthrough block`);
  return section[1];
}

/** README's walkthrough, then its continuation in docs/plan-changes.md, as one script. */
async function walkthroughScript(): Promise<string> {
  return (await walkthroughBlock("README.md")) + (await walkthroughBlock("docs/plan-changes.md"));
}

function run(script: string, env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", ["-euo", "pipefail", "-c", script], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.on("exit", (code) => resolve({ code: code ?? 1, out }));
  });
}

/**
 * The walkthrough's first steps again, through the typed client (docs/client.md) as a Node
 * program would take them: sign in, subscribe, see the payment, and a stale token refreshed.
 */
async function throughTheClient(url: string): Promise<void> {
  const api = createBillingClient({ baseUrl: url });
  const id = Math.random().toString(36).slice(2, 10);
  const account = { email: `grace-${id}@example.com`, password: "correct-Horse-battery-9" };
  unwrap(
    await api.POST("/api/auth/register/", {
      body: { ...account, username: `grace_${id}`, password_confirm: account.password },
    }),
  );
  const { tokens } = unwrap(await api.POST("/api/auth/login/", { body: account }));
  api.session.set(tokens);
  const plans = unwrap(await api.GET("/api/subscriptions/plans/")).results;
  const starter = plans.find((plan) => plan.name === "Starter");
  assert.ok(starter, JSON.stringify(plans));
  const created = unwrap(
    await api.POST("/api/subscriptions/create/", {
      body: { plan_id: starter.id, payment_method_id: "pm_card_visa" },
    }),
  );
  assert.equal(created.subscription.status, "active");
  const payments = await waitFor(
    async () => {
      const page = unwrap(await api.GET("/api/subscriptions/payments/"));
      return page.count === 1 && page.results;
    },
    { what: "the client's payment", timeoutMs: 30_000 },
  );
  assert.equal(payments[0]?.amount, "9.99");
  api.session.set({ ...tokens, access: "expired" });
  const status = unwrap(await api.GET("/api/subscriptions/status/"));
  assert.deepEqual([status.status, status.plan?.name], ["active", "Starter"]);
  assert.notEqual(api.session.get()?.refresh, tokens.refresh, "the pair was refreshed");
}

test("the README walkthrough runs on the embedded default", {
  skip: has("curl") && has("jq") ? false : "needs curl and jq",
  timeout: 180_000,
}, async () => {
  const dataDir = await freshDataDir(await mkdtemp(join(tmpdir(), "billing-walkthrough-")));
  const emulatorPort = await freePort();
  const env = {
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    STRIPE_EMULATOR_PORT: String(emulatorPort),
    PASSWORD_HASH_MEMORY_KIB: "1024",
    PASSWORD_HASH_ITERATIONS: "1",
    LOG_LEVEL: "info",
  };
  let api = startProcess("src/main.ts", env, dataDir);
  try {
    const url = await api.url;
    const { code, out } = await run(await walkthroughScript(), {
      API: url,
      EMULATOR: `http://127.0.0.1:${emulatorPort}`,
    });
    assert.equal(code, 0, out);
    assert.match(out, /"name":"Starter","amount":"9.99","currency":"usd","interval":"month"/);
    assert.match(out, /\{"status":"active","is_active":true,"plan":"Starter"\}/);
    assert.match(out, /\{"status":"active","cancel_at_period_end":true\}/);
    assert.match(out, /\{"status":"active","cancel_at_period_end":false\}/);
    assert.equal(out.match(/"amount":"9.99","status":"succeeded"/g)?.length, 2, out);
    assert.match(api.output(), /Subject: Payment received: Starter/);
    // docs/plan-changes.md: the upgrade charged once, the downgrade scheduled, then applied once.
    assert.match(
      out,
      /\{"effective":"now","amount_due_now":"\d+\.\d\d","next_invoice":\{"amount":"29.00"/,
    );
    assert.match(out, /\{"status":"changed","plan":"Pro"\}/);
    assert.match(out, /\{"status":"scheduled","plan":"Pro","pending":"Starter"\}/);
    assert.match(out, /\{"plan":"Starter","pending_change":null\}/);
    assert.equal(out.match(/"description":"Pro \(subscription_update\)"/g)?.length, 1, out);
    assert.equal(
      out.match(/"amount":"9.99","description":"Starter \(subscription_cycle\)"/g)?.length,
      2,
      out,
    );
    assert.match(api.output(), /Subject: Your plan has changed: Pro/);
    assert.match(api.output(), /Subject: Your plan changes on /);
    assert.match(api.output(), /Subject: Your subscription is canceled/);

    // The counters moved with the run (operations: /metrics).
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const counter = (pattern: RegExp) => Number(pattern.exec(metrics)?.[1] ?? 0);
    assert.ok(
      counter(/_count\{method="POST",route="\/api\/auth\/register\/",status="201"\} (\d+)/) >= 1,
      "register timed",
    );
    assert.ok(
      counter(/stripe_webhook_events_total\{type="invoice.paid",outcome="received"\} (\d+)/) >= 2,
    );
    assert.ok(
      counter(/stripe_webhook_events_total\{type="invoice.paid",outcome="processed"\} (\d+)/) >= 2,
    );
    assert.ok(
      counter(/stripe_webhook_processing_lag_seconds_count\{type="invoice.paid"\} (\d+)/) >= 2,
    );
    assert.ok(counter(/jobs_total\{queue="email.send",outcome="completed"\} (\d+)/) >= 3);
    assert.ok(counter(/emails_total\{template="[^"]+",outcome="sent"\} (\d+)/) >= 1);

    // Nothing secret reached the logs of the whole run: passwords, tokens, signatures, keys.
    const logs = api.output();
    assert.doesNotMatch(logs, /correct-Horse-battery-9/, "a password");
    assert.doesNotMatch(logs, /eyJ[\w-]+\.eyJ[\w-]+/, "a JWT");
    assert.doesNotMatch(logs, /Bearer \S/, "an Authorization header");
    assert.doesNotMatch(logs, /whsec_\w+|v1=[0-9a-f]{16}/, "a webhook secret or signature");
    assert.doesNotMatch(logs, /sk_(test|live)_\w+/, "a Stripe secret key");

    // The business metrics of what the walkthrough left: one active Starter subscription, paid.
    // The schedule runs every few minutes; an operator computes them at once with billing:metrics,
    // which the embedded database lets run only while the API is stopped.
    api.child.kill("SIGTERM");
    await api.exited;
    const cli = await runCli(["billing:metrics"], env, dataDir);
    assert.equal(cli.code, 0, cli.output);
    assert.match(cli.output, /^mrr usd 9\.99$/m);
    api = startProcess("src/main.ts", env, dataDir);
    const business = await (await fetch(`${await api.url}/metrics`)).text();
    const gauge = (sample: string) =>
      new RegExp(`^${sample.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(business)?.[1];
    assert.equal(gauge('billing_mrr{currency="usd"}'), "9.99", business);
    assert.equal(gauge('billing_subscriptions{status="active",plan="Starter"}'), "1");
    assert.equal(gauge('billing_churned_subscriptions{window="30d"}'), "0");
    assert.equal(gauge('billing_failed_invoices{window="30d"}'), "0");
    assert.equal(gauge('billing_trials_ended{window="30d"}'), "0");
    assert.ok(Number(gauge("billing_metrics_computed_timestamp_seconds")) > 0);
    // After the metrics above, which count the walkthrough's subscription only.
    await throughTheClient(await api.url);
  } finally {
    api.child.kill("SIGTERM");
    await api.exited;
    await rm(dataDir, { recursive: true, force: true });
  }
});
