import type { SwaggerTransform, SwaggerTransformObject } from "@fastify/swagger";
import type { preValidationHookHandler } from "fastify";
import type { TSchema } from "typebox";
import type { App } from "./types.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * The body may be left out, as a DRF view reading `request.data.get(…)` allows: the handler
     * then sees `{}` (so the schema's defaults apply) and OpenAPI marks the body not required.
     */
    optionalBody?: boolean;
    /**
     * The body of a route that reads it itself (the webhook's raw bytes) or ignores it: shown in
     * the document, never validated by Fastify. With `optionalBody`, the document marks it optional.
     */
    documentedBody?: TSchema;
  }
}

/** `schema` as a response, with the description OpenAPI shows for it ("Default Response" else). */
export function described<T extends TSchema>(description: string, schema: T): T {
  return { ...schema, description };
}

const emptyBodyAsObject: preValidationHookHandler = (request, _reply, done) => {
  if (request.body === undefined || request.body === null) request.body = {};
  done();
};

/** Gives every route with `config.optionalBody` a `{}` body when none came. Register before routes. */
export function acceptOptionalBodies(app: App): void {
  app.addHook("onRoute", (route) => {
    if (!route.config?.optionalBody) return;
    route.preValidation = [route.preValidation ?? [], emptyBodyAsObject].flat();
  });
}

/** Operation extension that carries `config.optionalBody` from a route to its OpenAPI operation. */
const OPTIONAL_BODY = "x-optional-body";

/**
 * @fastify/swagger's per-route `transform`: adds the documented-only bodies and marks the
 * operations whose body may be left out.
 */
export const markOptionalBody: SwaggerTransform = ({ schema, url, route }) => {
  const documented = route.config?.documentedBody;
  const withBody = documented ? { ...schema, body: documented } : schema;
  return route.config?.optionalBody
    ? { schema: { ...withBody, [OPTIONAL_BODY]: true }, url }
    : { schema: withBody, url };
};

interface Response {
  headers?: Record<string, unknown>;
}
type Operation = {
  requestBody?: { required?: boolean };
  responses?: Record<string, Response>;
} & Record<string, unknown>;

/** Sent on every response (the onRequest hook in app.ts): the caller's sane id, or a new one. */
const REQUEST_ID_HEADER = {
  description:
    "This request's id: the caller's `X-Request-Id` when sane, else a new UUID. Logs carry it.",
  required: true,
  schema: { type: "string" as const },
};

/**
 * @fastify/swagger's `transformObject`: it marks every request body required (Fastify needs one
 * where a body schema exists), so the operations marked above get theirs unmarked; and every
 * response declares the `X-Request-Id` header, which every response carries.
 */
export const finishDocument: SwaggerTransformObject = (document) => {
  if (!("openapiObject" in document)) return document.swaggerObject;
  const openapi = document.openapiObject;
  openapi.components = {
    ...openapi.components,
    headers: { ...openapi.components?.headers, RequestId: REQUEST_ID_HEADER },
  };
  for (const item of Object.values(openapi.paths ?? {})) {
    for (const operation of Object.values(item ?? {}) as Operation[]) {
      for (const response of Object.values(operation.responses ?? {})) {
        response.headers = {
          "X-Request-Id": { $ref: "#/components/headers/RequestId" },
          ...response.headers,
        };
      }
      if (!operation[OPTIONAL_BODY]) continue;
      delete operation[OPTIONAL_BODY];
      if (operation.requestBody) operation.requestBody.required = false;
    }
  }
  return openapi;
};
