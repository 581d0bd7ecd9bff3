import type Stripe from "stripe";
import { findUsersByIdOrCustomer, setStripeCustomerId, type User } from "../accounts/index.ts";
import { recordAudit } from "../audit/index.ts";
import type { Executor, Tx } from "../platform/db/client.ts";
import { customerLinkedAudit } from "./billing-audit.ts";

export function customerIdOf(
  customer: string | Stripe.Customer | Stripe.DeletedCustomer | null,
): string | null {
  if (customer === null) return null;
  return typeof customer === "string" ? customer : customer.id;
}

/** What says whose a Stripe object is: its customer and our `metadata.user_id`. */
export interface Owner {
  customerId: string | null;
  metadataUserId: string | undefined;
}

/**
 * Whose object this is (docs/architecture.md, 'Owner resolution'): `metadata.user_id` (we set it on
 * everything we create), else the user linked to the Stripe customer. Undefined when neither is
 * known yet.
 */
export async function resolveUser(
  db: Executor,
  customerId: string | null,
  metadataUserId: string | undefined,
): Promise<User | undefined> {
  const [user] = await resolveUsers(db, [{ customerId, metadataUserId }]);
  return user;
}

const isUserId = (value: string | undefined): value is string =>
  value !== undefined && /^[0-9a-f-]{36}$/i.test(value);

/** `resolveUser` for many objects at once, in one query; answers in order. */
export async function resolveUsers(db: Executor, owners: Owner[]): Promise<(User | undefined)[]> {
  const ids = owners.map((o) => o.metadataUserId).filter(isUserId);
  const customerIds = owners.map((o) => o.customerId).filter((c) => c !== null);
  const found = await findUsersByIdOrCustomer(db, ids, customerIds);
  const byId = new Map(found.map((user) => [user.id, user]));
  const byCustomer = new Map(
    found.filter((user) => user.stripeCustomerId).map((user) => [user.stripeCustomerId, user]),
  );
  return owners.map(
    ({ customerId, metadataUserId }) =>
      (isUserId(metadataUserId) ? byId.get(metadataUserId) : undefined) ??
      (customerId ? byCustomer.get(customerId) : undefined),
  );
}

/** Links the user to a Stripe customer in `tx`, recording `customer.linked` when that changed it. */
export async function linkCustomer(tx: Tx, userId: string, customerId: string): Promise<void> {
  const changed = await setStripeCustomerId(tx, userId, customerId);
  if (changed) await recordAudit(tx, [customerLinkedAudit(userId, changed.previous, customerId)]);
}
