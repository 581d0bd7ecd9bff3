/**
 * Constructors of the public error shapes (docs/architecture.md, 'The error model'). `AppError`
 * itself lives in platform/errors.ts, below every feature; it is re-exported here for existing
 * imports.
 */

import { AppError, type ErrorCode, type FieldErrors } from "../errors.ts";

export { AppError, type ErrorBody, type ErrorCode, type FieldErrors } from "../errors.ts";

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
