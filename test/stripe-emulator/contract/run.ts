import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * `npm run test:stripe-contract`: the portable contract tests against Stripe's test mode
 * (stripe-emulator/README.md, 'Running the contract suite against Stripe'). Without
 * `STRIPE_CONTRACT_KEY` it says so and succeeds, so a machine without a key (CI) never sends
 * traffic to Stripe; `npm test` runs the same files against the emulator.
 */
/** The contract tests: the emulator's test files written against a target (contract/target.ts). */
export function contractFiles(): string[] {
  const dir = "test/stripe-emulator";
  return readdirSync(dir)
    .filter((name) => name.endsWith(".test.ts"))
    .map((name) => join(dir, name))
    .filter((file) => readFileSync(file, "utf8").includes('from "./contract/target.ts"'))
    .sort();
}

function main(): number {
  const key = process.env.STRIPE_CONTRACT_KEY;
  if (!key) {
    console.log(
      "test:stripe-contract skipped: STRIPE_CONTRACT_KEY is not set. Set it to a test-mode " +
        "secret key (sk_test_…) to run the contract tests against Stripe; npm test runs them " +
        "against the emulator.",
    );
    return 0;
  }
  if (!/^(sk|rk)_test_\w+/.test(key)) {
    console.error("STRIPE_CONTRACT_KEY must be a test-mode key (sk_test_… or rk_test_…)");
    return 2;
  }
  // One file at a time: test clocks and events.list are shared by the whole account, and Stripe
  // rate-limits test mode.
  const run = spawnSync(
    process.execPath,
    [
      "--import",
      "./src/platform/module-hooks.ts",
      "--test",
      "--test-concurrency=1",
      "--test-timeout=600000",
      ...contractFiles(),
    ],
    { stdio: "inherit", env: { ...process.env, STRIPE_CONTRACT_TARGET: "stripe" } },
  );
  return run.status ?? 1;
}

process.exitCode = main();
