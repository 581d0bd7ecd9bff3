import { invalidRequest, StripeApiError } from "../errors.ts";
import { isRecord, type Params } from "../params.ts";

/**
 * What one parameter of a Stripe endpoint accepts, as the SDK form-encodes it (every scalar is a
 * string; `""` is how the SDK sends `null`, i.e. "unset"). Each route declares its parameters
 * with these, and the router checks every request against the declaration before the handler
 * reads it, so a parameter Stripe would refuse is refused here with Stripe's code and message.
 */
export type Spec =
  | { kind: "string"; format?: "email"; emptyable?: boolean }
  | { kind: "integer"; emptyable?: boolean }
  | { kind: "boolean"; emptyable?: boolean }
  | { kind: "enum"; values: readonly string[]; emptyable?: boolean }
  | { kind: "object"; fields: Shape; emptyable?: boolean }
  | { kind: "array"; of: Spec; emptyable?: boolean }
  | { kind: "metadata"; emptyable?: boolean }
  | { kind: "range"; emptyable?: boolean }
  | { kind: "either"; options: readonly Spec[]; emptyable?: boolean };

export type Shape = Readonly<Record<string, Spec>>;

/**
 * The parameters of an SDK params type `P` (`Stripe.CustomerCreateParams`, …): a key that is not
 * a parameter of `P` is a type error, so the SDK's `.d.ts` files stay the source of which
 * parameters exist. Keys the emulator does not implement are simply not declared (and refused).
 */
export type Fields<P> = { [K in keyof Required<P>]?: Spec };

export function shape<P>(fields: Fields<P>): Shape {
  return fields as Shape;
}

export const str: Spec = { kind: "string" };
export const email: Spec = { kind: "string", format: "email" };
export const int: Spec = { kind: "integer" };
export const bool: Spec = { kind: "boolean" };
export const metadata: Spec = { kind: "metadata", emptyable: true };
/** `created[gte]=…` style filters, or an exact timestamp. */
export const range: Spec = { kind: "range" };

export function oneOf<T extends string>(...values: T[]): Spec {
  return { kind: "enum", values };
}

export function obj<P>(fields: Fields<P>): Spec {
  return { kind: "object", fields: fields as Shape };
}

export function arr(of: Spec): Spec {
  return { kind: "array", of };
}

export function either(...options: Spec[]): Spec {
  return { kind: "either", options };
}

/** Accepts `""` (the SDK's `null`): the SDK types mark these `Emptyable<…>`. */
export function emptyable(spec: Spec): Spec {
  return { ...spec, emptyable: true };
}

/** Stripe's list parameters, added to every list declaration. */
export const pagination: Shape = { limit: int, starting_after: str, ending_before: str };

/** Every endpoint takes `expand`. */
const COMMON: Shape = { expand: arr(str) };

export const METADATA_LIMITS = { keys: 50, keyLength: 40, valueLength: 500 } as const;

export function validateParams(declared: Shape, params: Params): void {
  checkFields({ ...COMMON, ...declared }, params, "");
}

const child = (path: string, key: string | number) => (path ? `${path}[${key}]` : String(key));

function checkFields(fields: Shape, value: Params, path: string): void {
  for (const [key, v] of Object.entries(value)) {
    const spec = Object.hasOwn(fields, key) ? fields[key] : undefined;
    const at = child(path, key);
    if (!spec) {
      throw invalidRequest(`Received unknown parameter: ${at}`, at, "parameter_unknown");
    }
    check(spec, v, at);
  }
}

function check(spec: Spec, value: unknown, path: string): void {
  if (value === "") {
    if (spec.emptyable || spec.kind === "string") return;
    throw invalidRequest(
      `You passed an empty string for '${path}'. We assume empty values are an attempt to unset a parameter; however '${path}' cannot be unset. You should remove '${path}' from your request or supply a non-empty value.`,
      path,
      "parameter_invalid_empty",
    );
  }
  switch (spec.kind) {
    case "string":
      checkString(spec.format, value, path);
      return;
    case "integer":
      checkInteger(value, path);
      return;
    case "boolean":
      if (value !== "true" && value !== "false") {
        throw invalidRequest(`Invalid boolean: ${show(value)}`, path);
      }
      return;
    case "enum":
      if (typeof value !== "string" || !spec.values.includes(value)) {
        throw invalidRequest(`Invalid ${path}: must be one of ${listed(spec.values)}`, path);
      }
      return;
    case "object":
      if (!isRecord(value)) throw invalidRequest(`Invalid object`, path);
      checkFields(spec.fields, value, path);
      return;
    case "array":
      checkArray(spec.of, value, path);
      return;
    case "metadata":
      checkMetadata(value, path);
      return;
    case "range":
      checkRange(value, path);
      return;
    case "either":
      checkEither(spec.options, value, path);
      return;
  }
}

function checkString(format: "email" | undefined, value: unknown, path: string): void {
  if (typeof value !== "string") throw invalidRequest(`Invalid string: ${show(value)}`, path);
  if (format === "email" && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) {
    throw invalidRequest(`Invalid email address: ${value}`, path, "email_invalid");
  }
}

function checkInteger(value: unknown, path: string): void {
  if (typeof value !== "string" || !/^-?\d+$/.test(value)) {
    throw invalidRequest(`Invalid integer: ${show(value)}`, path, "parameter_invalid_integer");
  }
}

/** `qs` turns `a[0]=x` into an array, and very sparse indexes into an object keyed by index. */
function checkArray(of: Spec, value: unknown, path: string): void {
  const entries = Array.isArray(value)
    ? value.map((v, i) => [String(i), v] as const)
    : isRecord(value) && Object.keys(value).every((k) => /^\d+$/.test(k))
      ? Object.entries(value)
      : undefined;
  if (!entries) throw invalidRequest(`Invalid array`, path);
  for (const [i, v] of entries) check(of, v, child(path, i));
}

function checkMetadata(value: unknown, path: string): void {
  if (!isRecord(value)) throw invalidRequest(`Invalid object`, path);
  const keys = Object.keys(value);
  if (keys.length > METADATA_LIMITS.keys) {
    throw invalidRequest(
      `Invalid ${path}: must have at most ${METADATA_LIMITS.keys} keys (got ${keys.length})`,
      path,
    );
  }
  for (const [k, v] of Object.entries(value)) {
    if (k.length > METADATA_LIMITS.keyLength) {
      throw invalidRequest(
        `Invalid key: ${k} must be a string under ${METADATA_LIMITS.keyLength} characters`,
        path,
      );
    }
    if (typeof v !== "string") throw invalidRequest(`Invalid string: ${show(v)}`, child(path, k));
    if (v.length > METADATA_LIMITS.valueLength) {
      throw invalidRequest(
        `Invalid val: ${v} must be a string under ${METADATA_LIMITS.valueLength} characters`,
        path,
      );
    }
  }
}

function checkRange(value: unknown, path: string): void {
  if (typeof value === "string") {
    checkInteger(value, path);
    return;
  }
  if (!isRecord(value)) throw invalidRequest(`Invalid object`, path);
  checkFields({ gt: int, gte: int, lt: int, lte: int }, value, path);
}

/** The first option that accepts the value wins; when none does, the last option's error. */
function checkEither(options: readonly Spec[], value: unknown, path: string): void {
  let last: unknown;
  for (const option of options) {
    try {
      check(option, value, path);
      return;
    } catch (err) {
      if (!(err instanceof StripeApiError)) throw err;
      last = err;
    }
  }
  throw last;
}

function listed(values: readonly string[]): string {
  if (values.length < 2) return values.join("");
  return `${values.slice(0, -1).join(", ")}, or ${values.at(-1)}`;
}

function show(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}
