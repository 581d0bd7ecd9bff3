import type { Client, ClientOptions } from "openapi-fetch";
import type { components, paths } from "./schema.d.ts";

export type { components, operations, paths } from "./schema.d.ts";

type Schemas = components["schemas"];

/** The contract's error bodies (docs/architecture.md, "Errors"). */
export type ErrorBody =
  | Schemas["ErrorMessage"]
  | Schemas["ErrorDetail"]
  | Schemas["FieldErrors"]
  | Schemas["Unauthorized"]
  | Schemas["Throttled"]
  | Schemas["ServiceUnavailable"]
  | Schemas["InternalError"];

/** The token pair of a signed-in user (login, register, refresh). */
export interface Tokens {
  access: string;
  refresh: string;
}

/** Where the client keeps the token pair; `set(null)` signs out. */
export interface Session {
  get(): Tokens | null;
  set(tokens: Tokens | null): void;
}

/** An error answer of the API: its status and body, in one of the contract's error shapes. */
export declare class ApiError extends Error {
  constructor(response: Response, body: unknown);
  readonly status: number;
  /** The parsed body; undefined when the answer had none. */
  readonly body: ErrorBody | undefined;
  readonly response: Response;
}

export interface BillingClientOptions {
  /** The API's origin, e.g. "http://localhost:8000"; "" (default) for the page's own. */
  baseUrl?: string;
  /** The fetch to send requests with (default: globalThis.fetch). */
  fetch?: ClientOptions["fetch"];
  /** Where the token pair lives (default: memorySession()). */
  session?: Session;
}

export type BillingClient = Client<paths> & { session: Session };

/** A typed client of the API; sends the session's token and refreshes it once on a 401. */
export declare function createBillingClient(options?: BillingClientOptions): BillingClient;

/** The data of a successful call, or throws its `ApiError`. */
export declare function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T;

/** A session kept in this object only. */
export declare function memorySession(tokens?: Tokens | null): Session;

/** A session kept under `key` in a Web Storage (`sessionStorage`, `localStorage`). */
export declare function storageSession(
  storage: {
    getItem(key: string): string | null;
    setItem(key: string, value: string): void;
    removeItem(key: string): void;
  },
  key: string,
): Session;
