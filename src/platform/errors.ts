/**
 * The one error model. Services, jobs and commands throw `AppError`s with a code; the HTTP error
 * handler (platform/http/error-handler.ts) turns them into the public shapes of
 * docs/architecture.md. Below every feature, so any layer may throw one.
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

/** Thrown by an operator command for a user mistake: printed without a stack trace, exit code 2. */
export class UsageError extends Error {}
