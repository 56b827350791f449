/**
 * Finishes the OpenAPI document the routes generate, for clients and code
 * generators: the error answers each operation's shape implies, and examples
 * derived from the schemas (a field's `.openapi({ example })` first).
 * Routes declare only what their shape does not say (403, 409, 429, 503, a
 * 404 of a body's reference).
 */
import { ERROR_CODES, PROBLEM_TYPE_BASE } from "./problem.ts";
import { PROBLEM_DESCRIPTIONS, type ProblemStatus } from "./openapi.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];
const EXAMPLE_TIME = "2026-01-20T10:30:00.000Z";
const EXAMPLE_UUID = "550e8400-e29b-41d4-a716-446655440000";

/** The statuses an operation can answer by its shape alone. */
function impliedStatuses(path: string, operation: Json): ProblemStatus[] {
  const statuses: ProblemStatus[] = [];
  const hasBody = Boolean(operation.requestBody);
  // Any declared input can fail validation: 400 VAL_001 naming the field.
  if (hasBody || (operation.parameters ?? []).length > 0) statuses.push(400);
  // Authentication runs on every /v1 route but the public ones (`security: []`).
  if (!(Array.isArray(operation.security) && operation.security.length === 0)) statuses.push(401);
  // A path id that names no row the caller may see.
  if (/\{[^}]+\}/.test(path)) statuses.push(404);
  // The body limit (create-app.ts) applies to every body.
  if (hasBody) statuses.push(413);
  statuses.push(500);
  return statuses;
}

/** The example problem of a status: the contract's first code with it. */
function problemExample(status: number): Json {
  const [code, entry] = Object.entries(ERROR_CODES).find(([, e]) => e.status === status) ??
    ["SRV_001", ERROR_CODES.SRV_001];
  return {
    type: PROBLEM_TYPE_BASE + entry.slug,
    title: entry.title,
    status,
    code,
    detail: entry.title,
    ...(code === "VAL_001" ? { errors: [{ field: "phone", message: "debe estar en formato E.164" }] } : {}),
    timestamp: EXAMPLE_TIME,
  };
}

/** A value of a JSON schema: its own example, else one built from its type and format. */
export function exampleOf(schema: Json, doc: Json, depth = 0): unknown {
  if (!schema || depth > 12) return undefined;
  if (schema.$ref) {
    const name = String(schema.$ref).replace("#/components/schemas/", "");
    return exampleOf(doc.components?.schemas?.[name], doc, depth + 1);
  }
  if (schema.example !== undefined) return schema.example;
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  if (schema.default !== undefined) return schema.default;
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  for (const key of ["anyOf", "oneOf"]) {
    if (Array.isArray(schema[key])) {
      const choice = schema[key].find((s: Json) => s.type !== "null") ?? schema[key][0];
      return exampleOf(choice, doc, depth + 1);
    }
  }
  if (Array.isArray(schema.allOf)) {
    return Object.assign({}, ...schema.allOf.map((s: Json) => exampleOf(s, doc, depth + 1)));
  }
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== "null") : schema.type;
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [key, property] of Object.entries(schema.properties ?? {})) {
        const value = exampleOf(property, doc, depth + 1);
        if (value !== undefined) out[key] = value;
      }
      return out;
    }
    case "array": {
      const item = exampleOf(schema.items, doc, depth + 1);
      return item === undefined ? [] : Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => item);
    }
    case "string":
      return stringExample(schema);
    case "integer":
    case "number":
      return schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1);
    case "boolean":
      return true;
    case "null":
      return null;
    default:
      return undefined;
  }
}

function stringExample(schema: Json): string | undefined {
  switch (schema.format) {
    case "date-time":
      return EXAMPLE_TIME;
    case "date":
      return EXAMPLE_TIME.slice(0, 10);
    case "uuid":
      return EXAMPLE_UUID;
    case "email":
      return "diego@consultorio.dev";
    case "uri":
    case "url":
      return "https://consultorio.dev/ejemplo";
  }
  // A pattern needs an example of its own (`.openapi({ example })`); the linter
  // reports the media type's example as invalid otherwise.
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? Infinity;
  const text = "texto de ejemplo";
  return text.length >= min && text.length <= max ? text : "x".repeat(Math.min(Math.max(min, 1), max));
}

function addExample(media: Json, doc: Json) {
  if (!media?.schema || media.example !== undefined || media.examples !== undefined) return;
  const example = exampleOf(media.schema, doc);
  if (example !== undefined) media.example = example;
}

/** Adds the implied error answers and the examples, in place; returns the document. */
export function finishDocument(doc: Json): Json {
  for (const [path, item] of Object.entries<Json>(doc.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const implied = Object.fromEntries(
        impliedStatuses(path, operation).map((status) => [status, {
          description: PROBLEM_DESCRIPTIONS[status],
          content: {
            "application/problem+json": { schema: { $ref: "#/components/schemas/ProblemDetails" } },
          },
        }]),
      );
      operation.responses = { ...implied, ...operation.responses };
      operation.responses = Object.fromEntries(
        Object.entries(operation.responses).sort(([a], [b]) => Number(a) - Number(b)),
      );
      for (const media of Object.values<Json>(operation.requestBody?.content ?? {})) addExample(media, doc);
      for (const [status, response] of Object.entries<Json>(operation.responses)) {
        for (const [type, media] of Object.entries<Json>(response.content ?? {})) {
          if (type === "application/problem+json") {
            media.example ??= problemExample(Number(status));
          } else addExample(media, doc);
        }
      }
    }
  }
  return doc;
}
