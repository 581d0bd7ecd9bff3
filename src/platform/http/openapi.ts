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

/** @fastify/swagger's per-route `transform`: marks the operations whose body may be left out. */
export const markOptionalBody: SwaggerTransform = ({ schema, url, route }) =>
  route.config?.optionalBody
    ? { schema: { ...schema, [OPTIONAL_BODY]: true }, url }
    : { schema, url };

type Operation = { requestBody?: { required?: boolean } } & Record<string, unknown>;

/**
 * @fastify/swagger's `transformObject`: it marks every request body required (Fastify needs one
 * where a body schema exists); the operations marked above accept none.
 */
export const optionalBodiesNotRequired: SwaggerTransformObject = (document) => {
  if (!("openapiObject" in document)) return document.swaggerObject;
  for (const item of Object.values(document.openapiObject.paths ?? {})) {
    for (const operation of Object.values(item ?? {}) as Operation[]) {
      if (!operation[OPTIONAL_BODY]) continue;
      delete operation[OPTIONAL_BODY];
      if (operation.requestBody) operation.requestBody.required = false;
    }
  }
  return document.openapiObject;
};
