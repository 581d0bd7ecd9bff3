import { type Static, type TSchema, Type } from "typebox";

/**
 * `T` or null, as the type list `type: [T's type, "null"]` rather than TypeBox's
 * `anyOf: [T, null]`. The response serializer (fast-json-stringify) chooses an anyOf branch by
 * validating the value with ajv, formats included (a date-time, a uri, a whole plan), on every
 * response; a type list it chooses with `typeof`. OpenAPI 3.1 documents both the same way.
 */
export function Nullable<T extends TSchema & { type: string }>(schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, "null"] });
}
