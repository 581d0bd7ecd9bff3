import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { openStripe, type StripeDeps } from "../../src/billing/stripe-client.ts";
import type { Config } from "../../src/config.ts";
import { createLogger } from "../../src/platform/logging.ts";
import { testConfig } from "../helpers/app.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

// The embedded emulator's state and clock belong to the database it serves:
// they used to live in DATA_DIR whatever the database, so after a switch to another database the
// emulator renewed subscriptions that database had never seen.

let config: Config;
let first: TestDatabase;
let second: TestDatabase;

before(async () => {
  // One DATA_DIR for every opening below: it no longer decides which Stripe comes back.
  config = await testConfig();
  first = await createTestDatabase();
  second = await createTestDatabase();
});
after(async () => {
  await first.drop();
  await second.drop();
});

async function withEmulator<T>(database: TestDatabase, fn: (s: StripeDeps) => Promise<T>) {
  const stripe = await openStripe(config, createLogger(config), database.database);
  try {
    return await fn(stripe);
  } finally {
    await stripe.emulator?.close();
  }
}

const clock = async (s: StripeDeps) =>
  (await (await fetch(`${s.emulator?.url}/_emulator/now`)).json()) as { now: number };

test("another database gets a fresh emulator; the same database gets its own back, clock included", async () => {
  const month = 31 * 24 * 3600;
  const { customer, movedTo } = await withEmulator(first, async (s) => {
    const created = await s.stripe.customers.create({ email: "paired@example.com" });
    await s.emulator?.advanceTime(month);
    return { customer: created.id, movedTo: (await clock(s)).now };
  });

  await withEmulator(second, async (s) => {
    await assert.rejects(s.stripe.customers.retrieve(customer), { code: "resource_missing" });
    const { now } = await clock(s);
    assert.ok(Math.abs(now - Date.now() / 1000) < 60, "a fresh emulator's clock is the wall clock");
  });

  await withEmulator(first, async (s) => {
    const back = await s.stripe.customers.retrieve(customer);
    assert.equal("email" in back && back.email, "paired@example.com");
    const { now } = await clock(s);
    assert.ok(now >= movedTo && now - movedTo < 60, "the moved clock came back with its database");
  });
});
