import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { UsageError } from "../../src/platform/errors.ts";
import type { Command } from "../../src/platform/feature.ts";
import type { BillingTestApp, Customer } from "./billing.ts";

/**
 * Runs one of `commands` on the test app's services (its database and its emulator), parsed and
 * failing as `npm run cli` does (src/cli.ts): a usage error is exit 2 with its message.
 */
export async function runCommand(
  t: BillingTestApp,
  commands: Record<string, Command>,
  name: string,
  args: string[],
): Promise<{ code: number; out: string }> {
  const command = commands[name];
  assert.ok(command, name);
  const lines: string[] = [];
  try {
    const { values, positionals } = parseArgs({
      args,
      options: command.options ?? {},
      allowPositionals: true,
      strict: true,
    });
    const code = await command.run({
      config: t.config,
      logger: t.services.logger,
      values,
      positionals,
      services: t.services,
      out: (line) => lines.push(line),
      stdin: Readable.from([]),
    });
    return { code: code ?? 0, out: lines.join("\n") };
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && "code" in err)) {
      return { code: 2, out: `Error: ${err.message}` };
    }
    throw err;
  }
}

/** The customer switches their subscription to one of Stripe's test cards (`pm_card_…`). */
export async function switchCard(
  t: BillingTestApp,
  customer: Customer,
  subscriptionId: string,
  card: string,
): Promise<void> {
  const customers = await t.stripe.customers.list({ email: customer.email });
  const attached = await t.stripe.paymentMethods.attach(card, {
    customer: customers.data[0]?.id ?? "",
  });
  await t.stripe.subscriptions.update(subscriptionId, { default_payment_method: attached.id });
}
