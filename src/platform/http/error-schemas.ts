import { type Static, type TSchema, Type } from "typebox";

/**
 * The public error shapes, exactly as the one error handler (error-handler.ts, errors.ts) writes
 * them. Each is a named OpenAPI component (`#/components/schemas/<$id>`); routes refer to them
 * through `errorResponses`, which also declares when each status happens.
 */
const Detail = Type.String();

export const ErrorMessage = Type.Object(
  { error: Type.String() },
  {
    $id: "ErrorMessage",
    additionalProperties: false,
    description:
      'A business rule refused the request, as the original views said it: `{"error": …}`.',
    examples: [{ error: "No active subscription found." }],
  },
);

export const ErrorDetail = Type.Object(
  { detail: Detail },
  {
    $id: "ErrorDetail",
    additionalProperties: false,
    description: 'DRF\'s `{"detail": …}`: a malformed request, a missing page, a refused Host.',
    examples: [{ detail: "Invalid page." }],
  },
);

export const FieldErrors = Type.Object(
  {},
  {
    $id: "FieldErrors",
    additionalProperties: Type.Array(Type.String(), { minItems: 1 }),
    minProperties: 1,
    description:
      'DRF\'s per-field validation errors: `{"field": ["message", …]}`; errors about the body as a whole are under `non_field_errors`.',
    examples: [{ email: ["Enter a valid email address."] }],
  },
);

export const Unauthorized = Type.Object(
  {
    detail: Detail,
    code: Type.Optional(
      Type.Literal("token_not_valid", {
        description: "Present when a token was sent but is not valid (expired, revoked, …).",
      }),
    ),
  },
  {
    $id: "Unauthorized",
    additionalProperties: false,
    description:
      'No credentials (`{"detail": "Authentication credentials were not provided."}`) or a token that is not valid (`{"detail": …, "code": "token_not_valid"}`).',
    examples: [{ detail: "Given token not valid for any token type", code: "token_not_valid" }],
  },
);

export const Throttled = Type.Object(
  { detail: Detail },
  {
    $id: "Throttled",
    additionalProperties: false,
    description: "Too many requests; `Retry-After` says how many seconds to wait.",
    examples: [{ detail: "Request was throttled. Expected available in 42 seconds." }],
  },
);

export const ServiceUnavailable = Type.Object(
  { detail: Detail },
  {
    $id: "ServiceUnavailable",
    additionalProperties: false,
    description:
      "The database cannot be reached right now; retry after `Retry-After` seconds. Nothing is wrong with the request.",
    examples: [{ detail: "Service temporarily unavailable, try again later." }],
  },
);

export const InternalError = Type.Object(
  {
    detail: Detail,
    request_id: Type.String({ description: "The request's X-Request-Id, to find it in the logs." }),
  },
  {
    $id: "InternalError",
    additionalProperties: false,
    description: "A bug on our side; the body says nothing of it beyond the request id.",
    examples: [{ detail: "Internal server error.", request_id: "3f0c…" }],
  },
);

/** Every shared shape, registered once with `app.addSchema` (before the routes that refer to them). */
export const errorSchemas: TSchema[] = [
  ErrorMessage,
  ErrorDetail,
  FieldErrors,
  Unauthorized,
  Throttled,
  ServiceUnavailable,
  InternalError,
];

type Shape = typeof ErrorMessage | typeof ErrorDetail | typeof FieldErrors | typeof Unauthorized;
type AnyShape = Shape | typeof Throttled | typeof ServiceUnavailable | typeof InternalError;

const retryAfter = {
  "Retry-After": Type.Integer({
    minimum: 1,
    description: "Seconds to wait before trying again.",
  }),
};

/** One way a request can fail: its status, its body's shape, and when it happens. */
export interface ErrorCase {
  status: number;
  /** The body's shape; none for an answer without a body (a redirect). */
  shape?: AnyShape;
  when: string;
  /** Response headers sent with it. */
  headers?: Record<string, TSchema>;
}

const tooLarge: ErrorCase = {
  status: 413,
  shape: ErrorDetail,
  when: "The body is over BODY_LIMIT bytes.",
};

/**
 * The failures, by cause. A route lists the causes that apply to it; `errorResponses` merges them
 * by status, so a 400 that is sometimes per-field and sometimes `{"error": …}` declares both.
 */
export const failures = {
  /**
   * Every operation: the HTTPS redirect (SECURE_SSL_REDIRECT), a Host header outside
   * ALLOWED_HOSTS (production) and a bug.
   */
  any: [
    {
      status: 301,
      when: "SECURE_SSL_REDIRECT is on and the request came over plain HTTP: the same URL over HTTPS.",
      headers: { Location: Type.String({ format: "uri", description: "The https:// URL." }) },
    },
    { status: 400, shape: ErrorDetail, when: "The Host header is not allowed (production)." },
    { status: 500, shape: InternalError, when: "A bug: the error is logged under `request_id`." },
  ],
  /** Routes that read a JSON body. */
  jsonBody: [
    { status: 400, shape: ErrorDetail, when: "The body is not valid JSON." },
    tooLarge,
    { status: 415, shape: ErrorDetail, when: "The body is not JSON (Content-Type)." },
  ],
  /** Routes that read the body's raw bytes themselves (the webhook). */
  rawBody: [tooLarge],
  /** Fields (body or query) checked against the schema or by the service. */
  fields: [{ status: 400, shape: FieldErrors, when: "Invalid fields." }],
  /** `Authorization: Bearer <access token>` required. */
  auth: [{ status: 401, shape: Unauthorized, when: "No valid access token." }],
  /** A THROTTLE_* rate applies. */
  throttled: [
    {
      status: 429,
      shape: Throttled,
      when: "Too many requests from this client or for this account.",
      headers: retryAfter,
    },
  ],
  /** The route reads or writes the database. */
  database: [
    {
      status: 503,
      shape: ServiceUnavailable,
      when: "The database is unreachable.",
      headers: retryAfter,
    },
  ],
  /** Paginated lists. */
  page: [{ status: 404, shape: ErrorDetail, when: 'A page past the last one: "Invalid page."' }],
} satisfies Record<string, ErrorCase[]>;

/** A business rule's `{"error": …}` answer. */
export function businessFailure(status: number, when: string): ErrorCase {
  return { status, shape: ErrorMessage, when };
}

/** A reference to a shared shape by its `$id`, resolved by Fastify and @fastify/swagger alike. */
function ref(shape: AnyShape): { $ref: string } {
  const id = (shape as { $id?: unknown }).$id;
  if (typeof id !== "string") throw new Error("error shapes are registered by $id");
  return { $ref: `${id}#` };
}

/**
 * The error part of a route's `response` map: per status, the shapes it can answer with (`anyOf`
 * when several), their named components, the `Retry-After` header where it is sent, and a
 * description saying when. The same schemas serialize the error handler's answers, and the tests
 * check every answer against the document (test/helpers/openapi-contract.ts).
 */
export function errorResponses(...groups: ErrorCase[][]): Record<number, TSchema> {
  const byStatus = new Map<number, ErrorCase[]>();
  for (const failure of groups.flat()) {
    const cases = byStatus.get(failure.status) ?? [];
    cases.push(failure);
    byStatus.set(failure.status, cases);
  }
  const responses: Record<number, TSchema> = {};
  for (const [status, cases] of [...byStatus].sort(([a], [b]) => a - b)) {
    const shapes = [...new Set(cases.flatMap((c) => (c.shape ? [c.shape] : [])))];
    const whens = [...new Set(cases.map((c) => c.when))];
    const headers = Object.assign({}, ...cases.map((c) => c.headers ?? {}));
    // `type: "null"` is @fastify/swagger's way of saying "no body" (no `content`).
    const body =
      shapes.length === 0
        ? { type: "null" }
        : shapes.length === 1 && shapes[0]
          ? ref(shapes[0])
          : { anyOf: shapes.map(ref) };
    responses[status] = Type.Unsafe<Static<Shape>>({
      ...body,
      description: whens.join(" "),
      ...(Object.keys(headers).length > 0 ? { headers } : {}),
    });
  }
  return responses;
}
