import { Ajv, type ErrorObject, type Options } from "ajv";
import addFormatsModule from "ajv-formats";
import type { FastifySchemaCompiler, FastifySchemaValidationError } from "fastify";
import type { FieldErrors } from "./errors.ts";

// ajv-formats is CommonJS; under native ESM its function is the default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    useDefaults: true,
    removeAdditional: false,
    strict: false,
    ...options,
  });
  addFormats(ajv);
  return ajv;
}

// JSON bodies keep their types: `{"email": 5}` is an error, as it was in the original serializers.
// Query strings, params and headers are text, so there numbers and booleans are coerced.
const bodyAjv = makeAjv({ coerceTypes: false });
const textAjv = makeAjv({ coerceTypes: "array" });

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === "body" ? bodyAjv : textAjv;
  return ajv.compile(schema as object);
};

function typeName(value: unknown): string {
  if (Array.isArray(value)) return "list";
  if (value === null) return "null";
  if (typeof value === "object") return "dict";
  return typeof value === "number" ? "int" : typeof value === "string" ? "str" : typeof value;
}

/** Django REST framework's wording for each kind of failure, so clients see the original messages. */
function message(error: FastifySchemaValidationError | ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return "This field is required.";
    case "type":
      switch (params.type) {
        case "string":
          return "Not a valid string.";
        case "integer":
          return "A valid integer is required.";
        case "number":
          return "A valid number is required.";
        case "boolean":
          return "Must be a valid boolean.";
        case "array":
          return "Expected a list of items.";
        default:
          return "Invalid data. Expected a dictionary.";
      }
    case "format":
      if (params.format === "email") return "Enter a valid email address.";
      if (params.format === "uuid") return "Must be a valid UUID.";
      return `Enter a valid ${String(params.format)}.`;
    case "minLength":
      return params.limit === 1
        ? "This field may not be blank."
        : `Ensure this field has at least ${String(params.limit)} characters.`;
    case "maxLength":
      return `Ensure this field has no more than ${String(params.limit)} characters.`;
    case "minimum":
      return `Ensure this value is greater than or equal to ${String(params.limit)}.`;
    case "maximum":
      return `Ensure this value is less than or equal to ${String(params.limit)}.`;
    case "enum":
      return "Not a valid choice.";
    case "pattern":
      return "Enter a valid value.";
    default:
      return error.message ?? "Invalid value.";
  }
}

/**
 * Turns ajv errors into `{"field": ["message"]}`. A body that is not an object at all is a
 * `non_field_errors` entry, as in DRF.
 */
export function fieldErrorsFrom(
  errors: FastifySchemaValidationError[],
  data?: unknown,
): FieldErrors {
  const fields: FieldErrors = {};
  for (const error of errors) {
    const path = error.instancePath.split("/").filter(Boolean);
    const params = error.params as Record<string, unknown>;
    if (error.keyword === "required" && typeof params.missingProperty === "string") {
      path.push(params.missingProperty);
    }
    const field = path[0] ?? "non_field_errors";
    const text =
      field === "non_field_errors" && error.keyword === "type"
        ? `Invalid data. Expected a dictionary, but got ${typeName(data)}.`
        : message(error);
    const list = fields[field] ?? [];
    if (!list.includes(text)) list.push(text);
    fields[field] = list;
  }
  return fields;
}
