import type Stripe from "stripe";

/**
 * Stripe's error codes, as the SDK lists them (https://docs.stripe.com/error-codes): a code
 * outside the list is a type error here. (`OtherString` is dropped from the SDK's union.)
 */
type Known<T> = T extends string ? (string extends T ? never : T) : never;
export type StripeErrorCode = Known<Stripe.PaymentIntent.LastPaymentError.Code>;

/**
 * Stripe's error body: `{ error: { type, code, decline_code, message, param, … } }`.
 * The SDK picks its error class from the HTTP status and `type`, so both must match
 * what Stripe sends for the same situation.
 */
export interface StripeErrorBody {
  type: "api_error" | "card_error" | "idempotency_error" | "invalid_request_error";
  message: string;
  code?: StripeErrorCode;
  decline_code?: string;
  param?: string;
  payment_intent?: unknown;
  payment_method?: unknown;
  doc_url?: string;
  request_log_url?: string;
}

export class StripeApiError extends Error {
  readonly status: number;
  readonly body: StripeErrorBody;
  constructor(status: number, body: StripeErrorBody) {
    super(body.message);
    this.status = status;
    this.body = body;
  }
}

export function invalidRequest(
  message: string,
  param?: string,
  code?: StripeErrorCode,
): StripeApiError {
  return new StripeApiError(400, { type: "invalid_request_error", message, param, code });
}

export function missingParam(param: string): StripeApiError {
  return invalidRequest(`Missing required param: ${param}.`, param, "parameter_missing");
}

/** A value Stripe refuses for a reason that has no code of its own (Stripe sends none either). */
export function invalidParam(param: string, message: string): StripeApiError {
  return invalidRequest(message, param);
}

const OBJECT_NAMES: Record<string, string> = {
  cus: "customer",
  pm: "payment_method",
  prod: "product",
  price: "price",
  sub: "subscription",
  in: "invoice",
  inpay: "invoice_payment",
  pi: "payment_intent",
  ch: "charge",
  re: "refund",
  seti: "setup_intent",
  cs: "checkout.session",
  evt: "event",
  we: "webhook_endpoint",
  clock: "test_clock",
  si: "subscription_item",
};

export function noSuchObject(id: string, param = "id"): StripeApiError {
  const prefix = id.split("_")[0] ?? "";
  const name = OBJECT_NAMES[prefix] ?? "object";
  return new StripeApiError(404, {
    type: "invalid_request_error",
    code: "resource_missing",
    message: `No such ${name}: '${id}'`,
    param,
  });
}

/** Stripe's answer to a path it does not serve; the emulator gives it for paths it does not emulate. */
export function unknownPath(method: string, path: string): StripeApiError {
  return new StripeApiError(404, {
    type: "invalid_request_error",
    message: `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
  });
}

export function cardError(
  message: string,
  code: StripeErrorCode,
  declineCode?: string,
  extra: Partial<StripeErrorBody> = {},
): StripeApiError {
  return new StripeApiError(402, {
    type: "card_error",
    code,
    decline_code: declineCode,
    message,
    ...extra,
  });
}

/**
 * The body Stripe sends for an error: `doc_url` for every error with a code (the code's page,
 * underscores as dashes) and `request_log_url` (the request in the Dashboard's logs) for every
 * authenticated API request. The emulator has no Dashboard; the URL has Stripe's shape.
 */
export function errorBody(err: StripeApiError, requestId: string): StripeErrorBody {
  const body: StripeErrorBody = { ...err.body };
  if (body.code && !body.doc_url) {
    body.doc_url = `https://stripe.com/docs/error-codes/${body.code.replaceAll("_", "-")}`;
  }
  if (err.status !== 401 && !body.request_log_url) {
    const t = Math.floor(Date.now() / 1000);
    body.request_log_url = `https://dashboard.stripe.com/test/logs/${requestId}?t=${t}`;
  }
  return body;
}
