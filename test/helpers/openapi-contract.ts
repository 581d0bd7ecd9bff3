import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { App } from "../../src/app.ts";

// ajv-formats is CommonJS; under native ESM its function is the default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

interface HeaderObject {
  required?: boolean;
  $ref?: string;
}
interface ResponseObject {
  headers?: Record<string, HeaderObject>;
  content?: Record<string, unknown>;
}
interface OperationObject {
  operationId?: string;
  responses?: Record<string, ResponseObject>;
}
interface OpenApiDocument {
  paths?: Record<string, Record<string, OperationObject>>;
  components?: { headers?: Record<string, HeaderObject> };
}

/** A JSON pointer segment (RFC 6901). */
const pointer = (segment: string) => segment.replaceAll("~", "~0").replaceAll("/", "~1");

/** Fastify's route template ("/a/:id") as an OpenAPI path ("/a/{id}"). */
const openapiPath = (url: string) => url.replace(/:(\w+)/g, "{$1}");

/**
 * Checks one response against the document: its status is declared for the operation, its
 * required headers are present, and a JSON body validates against the declared schema (JSON
 * Schema 2020-12, the dialect of OpenAPI 3.1). Returns what is wrong, or null.
 */
export class ContractChecker {
  readonly #document: OpenApiDocument;
  readonly #ajv: Ajv2020;
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(document: object) {
    this.#document = document as OpenApiDocument;
    this.#ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.#ajv);
    this.#ajv.addSchema(document, "openapi.json");
  }

  #validator(path: string, method: string, status: string): ValidateFunction {
    const ref =
      `openapi.json#/paths/${pointer(path)}/${method}/responses/${status}` +
      "/content/application~1json/schema";
    let validate = this.#validators.get(ref);
    if (!validate) {
      validate = this.#ajv.getSchema(ref);
      if (!validate) throw new Error(`no schema at ${ref}`);
      this.#validators.set(ref, validate);
    }
    return validate;
  }

  /** The documented operation of a route, or undefined when the document does not have it. */
  operation(url: string, method: string): OperationObject | undefined {
    return this.#document.paths?.[openapiPath(url)]?.[method.toLowerCase()];
  }

  check(
    url: string,
    method: string,
    status: number,
    headers: Record<string, unknown>,
    body: string | undefined,
  ): string | null {
    const path = openapiPath(url);
    const verb = method.toLowerCase();
    const operation = this.operation(url, method);
    if (!operation) return `${method} ${path} is not in the document`;
    const name = `${operation.operationId ?? `${method} ${path}`} ${status}`;
    const response = operation.responses?.[String(status)];
    if (!response) {
      const declared = Object.keys(operation.responses ?? {}).join(", ");
      return `${name}: status not declared (declared: ${declared})`;
    }
    for (const [header, declared] of Object.entries(response.headers ?? {})) {
      const resolved = declared.$ref
        ? this.#document.components?.headers?.[declared.$ref.split("/").pop() ?? ""]
        : declared;
      if (resolved?.required && headers[header.toLowerCase()] === undefined) {
        return `${name}: required header ${header} missing`;
      }
    }
    if (!response.content) {
      return body ? `${name}: a body where the document declares none` : null;
    }
    const type = String(headers["content-type"] ?? "");
    if (!response.content["application/json"]) return `${name}: only non-JSON content declared`;
    if (!type.startsWith("application/json")) return `${name}: content-type "${type}", not JSON`;
    let data: unknown;
    try {
      data = JSON.parse(body ?? "");
    } catch {
      return `${name}: body is not JSON: ${body?.slice(0, 200)}`;
    }
    const validate = this.#validator(path, verb, String(status));
    if (validate(data)) return null;
    return `${name}: body does not match its schema: ${this.#ajv.errorsText(validate.errors)}; body: ${body?.slice(0, 500)}`;
  }
}

/**
 * Routes left out of the check, and why. Everything else the app answers must be an operation of
 * /api/schema/ and match it.
 * - Hidden routes (`schema.hide`): the docs pages and their assets (HTML, JS, CSS), the document
 *   itself, /metrics (Prometheus text), the 405 answers of known paths' other methods and
 *   @fastify/cors's preflight route (OPTIONS *). They are not operations of the JSON API;
 *   test/platform/docs.test.ts, http.test.ts and security.test.ts check them.
 * - Requests that match no route (the 404 of an unknown path): there is no operation to hold
 *   them to.
 */
function excluded(request: FastifyRequest): boolean {
  const url = request.routeOptions.url;
  if (url === undefined || request.is404) return true;
  const schema = request.routeOptions.schema as { hide?: boolean } | undefined;
  return schema?.hide === true;
}

function text(payload: unknown): string | undefined {
  if (typeof payload === "string") return payload;
  if (Buffer.isBuffer(payload)) return payload.toString("utf8");
  return undefined;
}

/**
 * Validates every response of `app` against its own /api/schema/. A mismatch turns the response
 * into a 500 naming it (so the test that made the request sees why), and is kept for
 * `violations` (so a test that never looks at that response still fails when the app closes).
 */
export function checkResponsesAgainstDocument(app: App): { violations: string[] } {
  const violations: string[] = [];
  let checker: ContractChecker | undefined;
  app.addHook("onSend", async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (excluded(request)) return payload;
    const url = request.routeOptions.url ?? request.url;
    checker ??= new ContractChecker(app.swagger());
    const problem = checker.check(
      url,
      request.method,
      reply.statusCode,
      reply.getHeaders(),
      text(payload),
    );
    if (!problem) return payload;
    violations.push(problem);
    reply.code(500).type("application/json; charset=utf-8");
    return JSON.stringify({ detail: `Response does not match /api/schema/: ${problem}` });
  });
  return { violations };
}
