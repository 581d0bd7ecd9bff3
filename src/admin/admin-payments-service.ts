import Stripe from "stripe";
import { recordAudit } from "../audit/index.ts";
import {
  findStaffPayment,
  formatMinor,
  listStaffPayments,
  type StaffPaymentBody,
  type StaffPaymentFilter,
  staffPaymentBody,
} from "../billing/index.ts";
import type { Db } from "../platform/db/client.ts";
import { AppError } from "../platform/errors.ts";
import { businessError, fieldError } from "../platform/http/errors.ts";
import type { Logger } from "../platform/logging.ts";

// Payments for staff: every user's, and refunds. A refund is asked of Stripe here and recorded by
// the `charge.refunded` webhook when it comes back, through the one path every refund takes
// (billing's `recordRefunds`): a refund made in Stripe's dashboard and one made here are the
// same fact, recorded once (docs/architecture.md, 'Stripe is the source of truth').

export interface AdminPaymentsDeps {
  db: Db;
  stripe: Stripe;
  logger: Logger;
}

export async function listAdminPayments(
  deps: Pick<AdminPaymentsDeps, "db">,
  filter: StaffPaymentFilter,
  page: { limit: number; offset: number },
): Promise<{ count: number; results: StaffPaymentBody[] }> {
  const { count, payments } = await listStaffPayments(deps.db, filter, page);
  return { count, results: payments.map(staffPaymentBody) };
}

export interface RefundRequest {
  paymentId: string;
  /** Minor units; the whole refundable rest when absent. */
  amount?: number | undefined;
  /**
   * Names this refund at Stripe (the request's Idempotency-Key, else a fresh one per request):
   * a retry with the same key, ours or the SDK's, is the same refund.
   */
  key: string;
}

export interface RefundResult {
  id: string;
  payment_id: string;
  amount: string;
  currency: string;
  status: string;
  /** Refundable after this refund, major units. */
  remaining: string;
}

const notFound = () => businessError("not_found", "Payment not found.");

/** The charge a succeeded payment was made with, from its row or its PaymentIntent. */
async function chargeOf(
  stripe: Stripe,
  payment: { stripeChargeId: string | null; stripePaymentIntentId: string | null },
): Promise<Stripe.Charge> {
  if (payment.stripeChargeId) return stripe.charges.retrieve(payment.stripeChargeId);
  if (!payment.stripePaymentIntentId) {
    throw businessError("invalid", "This payment has no charge at Stripe to refund.");
  }
  const pi = await stripe.paymentIntents.retrieve(payment.stripePaymentIntentId);
  const charge = pi.latest_charge;
  if (!charge) throw businessError("invalid", "This payment has no charge at Stripe to refund.");
  return stripe.charges.retrieve(typeof charge === "string" ? charge : charge.id);
}

/** The refund a request with `key` made of `charge`, if there is one. */
async function refundMadeFor(
  stripe: Stripe,
  chargeId: string,
  key: string,
): Promise<Stripe.Refund | undefined> {
  for await (const refund of stripe.refunds.list({ charge: chargeId, limit: 100 })) {
    if (refund.metadata?.[REQUEST_KEY] === key) return refund;
  }
  return undefined;
}

async function createRefund(
  stripe: Stripe,
  charge: Stripe.Charge,
  refundable: number,
  request: RefundRequest,
): Promise<Stripe.Refund> {
  if (refundable <= 0) throw businessError("invalid", "This payment is refunded in full already.");
  const amount = request.amount ?? refundable;
  if (amount > refundable) {
    throw fieldError(
      "amount",
      `Ensure this value is less than or equal to ${refundable} (${formatMinor(refundable, charge.currency)} ${charge.currency.toUpperCase()} is refundable).`,
    );
  }
  return stripe.refunds.create(
    {
      charge: charge.id,
      amount,
      reason: "requested_by_customer",
      metadata: { [REQUEST_KEY]: request.key },
    },
    { idempotencyKey: `admin-refund:${request.paymentId}:${request.key}` },
  );
}

/** The refund's metadata key naming the admin request that made it. */
const REQUEST_KEY = "admin_request";

/**
 * Refunds a succeeded payment fully or partly through Stripe's Refunds API. The refundable amount
 * is Stripe's (the charge's amount less what it refunded, however it was refunded), checked before
 * asking. Nothing is written to the payments here: the webhook records the refund once. The
 * request is audited (`admin.refund_requested`, actor the staff user).
 */
export async function refundPayment(
  deps: AdminPaymentsDeps,
  request: RefundRequest,
): Promise<RefundResult> {
  const found = await findStaffPayment(deps.db, request.paymentId);
  if (!found) throw notFound();
  const payment = found.row;
  if (payment.status !== "succeeded") {
    throw businessError(
      "invalid",
      `Only a succeeded payment can be refunded; this one is ${payment.status}.`,
    );
  }
  try {
    const charge = await chargeOf(deps.stripe, payment);
    // A retry of a request whose refund Stripe made (its answer lost, or our audit write failed)
    // finds that refund instead of refusing: the charge has less left to refund now.
    const made = await refundMadeFor(deps.stripe, charge.id, request.key);
    const refundable = charge.amount - charge.amount_refunded + (made?.amount ?? 0);
    const refund = made ?? (await createRefund(deps.stripe, charge, refundable, request));
    await deps.db.transaction((tx) =>
      recordAudit(tx, [
        {
          userId: payment.userId,
          kind: "admin.refund_requested",
          subjectId: refund.id,
          after: {
            payment_id: payment.id,
            charge: charge.id,
            amount: refund.amount,
            currency: refund.currency,
            status: refund.status,
          },
        },
      ]),
    );
    return {
      id: refund.id,
      payment_id: payment.id,
      amount: formatMinor(refund.amount, refund.currency),
      currency: refund.currency,
      status: refund.status ?? "pending",
      remaining: formatMinor(Math.max(0, refundable - refund.amount), refund.currency),
    };
  } catch (err) {
    if (err instanceof AppError || !(err instanceof Stripe.errors.StripeError)) throw err;
    deps.logger.warn({ err, payment: payment.id }, "admin refund refused by Stripe");
    throw businessError("invalid", `Stripe refused the refund: ${err.message}`);
  }
}
