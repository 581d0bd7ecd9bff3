/**
 * The one error model. Services throw `AppError`s; the HTTP error handler turns them into the
 * public shapes of DESIGN §3. Routes never build error bodies themselves.
 */

export type ErrorCode =
  | "invalid"
  | "unauthenticated"
  | "token_not_valid"
  | "payment_required"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "conflict"
  | "payload_too_large"
  | "unsupported_media_type"
  | "throttled"
  | "unavailable";

const STATUS: Record<ErrorCode, number> = {
  invalid: 400,
  unauthenticated: 401,
  token_not_valid: 401,
  payment_required: 402,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  throttled: 429,
  unavailable: 503,
};

export type FieldErrors = Record<string, string[]>;

/**
 * `body` selects the public shape:
 * - `error`: the original views' `{"error": message}`;
 * - `detail`: DRF's `{"detail": message}` (authentication, 404, 405, throttling);
 * - `fields`: per-field validation `{"field": ["message"]}`.
 */
export type ErrorBody =
  | { kind: "error" }
  | { kind: "detail" }
  | { kind: "fields"; fields: FieldErrors };

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly body: ErrorBody;
  /** Seconds, sent as `Retry-After` (throttling, unavailability). */
  readonly retryAfter: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { body?: ErrorBody; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.body = options.body ?? { kind: "error" };
    this.retryAfter = options.retryAfter;
  }

  get status(): number {
    return STATUS[this.code];
  }

  /** The JSON body the client receives. */
  toJSON(): Record<string, unknown> {
    switch (this.body.kind) {
      case "fields":
        return this.body.fields;
      case "detail":
        return this.code === "token_not_valid"
          ? { detail: this.message, code: "token_not_valid" }
          : { detail: this.message };
      default:
        return { error: this.message };
    }
  }
}

/** `400 {"field": ["message", …], …}`. */
export function validationError(fields: FieldErrors): AppError {
  return new AppError("invalid", "Invalid input.", { body: { kind: "fields", fields } });
}

/** `400 {"field": ["message"]}` for one field. */
export function fieldError(field: string, message: string): AppError {
  return validationError({ [field]: [message] });
}

/** `<status> {"error": message}`, the original views' business errors. */
export function businessError(code: ErrorCode, message: string): AppError {
  return new AppError(code, message);
}

/** `<status> {"detail": message}`. */
export function detailError(code: ErrorCode, message: string, retryAfter?: number): AppError {
  return new AppError(code, message, {
    body: { kind: "detail" },
    ...(retryAfter === undefined ? {} : { retryAfter }),
  });
}

/** Seconds a client is asked to wait when a dependency (the database) is unreachable. */
const UNAVAILABLE_RETRY_AFTER = 5;

/**
 * `503 {"detail": …}` + `Retry-After`, DRF's ServiceUnavailable: the database cannot be reached right
 * now. Not a 500: nothing is wrong with the request, and retrying it later will work.
 */
export function unavailableError(): AppError {
  return detailError(
    "unavailable",
    "Service temporarily unavailable, try again later.",
    UNAVAILABLE_RETRY_AFTER,
  );
}
