/**
 * Stripe's error body: `{ error: { type, code, decline_code, message, param, … } }`.
 * The SDK picks its error class from the HTTP status and `type`, so both must match
 * what Stripe sends for the same situation.
 */
export interface StripeErrorBody {
  type: "api_error" | "card_error" | "idempotency_error" | "invalid_request_error";
  message: string;
  code?: string;
  decline_code?: string;
  param?: string;
  payment_intent?: unknown;
  payment_method?: unknown;
  doc_url?: string;
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

export function invalidRequest(message: string, param?: string, code?: string): StripeApiError {
  return new StripeApiError(400, { type: "invalid_request_error", message, param, code });
}

export function missingParam(param: string): StripeApiError {
  return invalidRequest(`Missing required param: ${param}.`, param, "parameter_missing");
}

export function invalidParam(param: string, message: string): StripeApiError {
  return invalidRequest(message, param, "parameter_invalid");
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

export function unknownPath(method: string, path: string): StripeApiError {
  return new StripeApiError(404, {
    type: "invalid_request_error",
    message: `Unrecognized request URL (${method}: ${path}). This path is not supported by the Stripe emulator; see stripe-emulator/README.md for what is.`,
  });
}

export function cardError(
  message: string,
  code: string,
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
