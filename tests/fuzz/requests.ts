/**
 * Requests generated from the API's own OpenAPI document with fast-check:
 * for every operation, valid requests by every role, and requests with one
 * thing wrong (a field of the wrong type, missing or extra, huge or unicode
 * strings, bad uuids and dates, negative and enormous numbers, bad JSON, the
 * wrong content type, a bad path or query parameter, no token).
 */
import fc from "fast-check";

// deno-lint-ignore no-explicit-any
export type Schema = any;

export interface Operation {
  method: string;
  /** Path under the function, with `{param}` placeholders, e.g. /v1/user/{id} */
  path: string;
  pathParams: string[];
  /** The path parameters' schemas (an enum's valid values are drawn from it; a pattern is not a uuid). */
  pathSchemas: Record<string, Schema>;
  query: { name: string; required: boolean; schema: Schema }[];
  body?: Schema;
  isPublic: boolean;
}

export type Role = "admin" | "doctor" | "patient";

/** What is wrong with a request, and so what the answer must be. */
export type Fault =
  | { kind: "none" }
  /** The field (body field, path or query parameter) is invalid: 400 naming it. */
  | { kind: "field"; field: string; how: string }
  /** The body as a whole is broken: a 4xx. */
  | { kind: "body"; how: string }
  /** No token, or a forged one: 401. */
  | { kind: "auth"; how: string };

export interface FuzzRequest {
  operation: Operation;
  method: string;
  path: string;
  role: Role | null;
  token: "valid" | "missing" | "forged";
  headers: Record<string, string>;
  body?: string;
  fault: Fault;
}

// deno-lint-ignore no-explicit-any
export function operationsOf(doc: any): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    // deno-lint-ignore no-explicit-any
    for (const [method, spec] of Object.entries(item as Record<string, any>)) {
      const params = (spec.parameters ?? []) as Schema[];
      const body = spec.requestBody?.content?.["application/json"]?.schema;
      ops.push({
        method: method.toUpperCase(),
        path: path.replace(/^\/api/, ""),
        pathParams: params.filter((p) => p.in === "path").map((p) => p.name),
        pathSchemas: Object.fromEntries(params.filter((p) => p.in === "path").map((p) => [p.name, p.schema])),
        query: params.filter((p) => p.in === "query").map((p) => ({
          name: p.name,
          required: Boolean(p.required),
          schema: p.schema,
        })),
        body: body && resolve(doc, body),
        isPublic: Array.isArray(spec.security) && spec.security.length === 0,
      });
    }
  }
  return ops;
}

/** Inlines every $ref of a schema. */
function resolve(doc: Schema, schema: Schema): Schema {
  if (Array.isArray(schema)) return schema.map((s) => resolve(doc, s));
  if (schema === null || typeof schema !== "object") return schema;
  if (typeof schema.$ref === "string") {
    return resolve(doc, doc.components.schemas[schema.$ref.split("/").pop()]);
  }
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, resolve(doc, v)]));
}

// ---------------------------------------------------------------------------
// Valid values
// ---------------------------------------------------------------------------

/** Ids worth aiming at: real rows of the fixture, so that valid requests reach the rules. */
export interface IdPool {
  ids: string[];
}

const futureInstant = fc.date({
  min: new Date("2027-01-04T00:00:00Z"),
  max: new Date("2029-12-28T00:00:00Z"),
  noInvalidDate: true,
})
  .map((d) => new Date(Math.floor(d.getTime() / 1_800_000) * 1_800_000).toISOString());

export function validValue(schema: Schema, pool: IdPool): fc.Arbitrary<unknown> {
  if (!schema || typeof schema !== "object") return fc.constant(null);
  if ("const" in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
  const variants = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(variants)) return fc.oneof(...variants.map((v: Schema) => validValue(v, pool)));
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== "null") : schema.type;
  switch (type) {
    case "string":
      return validString(schema, pool);
    case "integer":
      return fc.integer({ min: schema.minimum ?? 0, max: Math.min(schema.maximum ?? 10_000, 2 ** 31 - 1) });
    case "number":
      return fc.double({ min: schema.minimum ?? 0, max: schema.maximum ?? 10_000, noNaN: true });
    case "boolean":
      return fc.boolean();
    case "array":
      return fc.array(validValue(schema.items, pool), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 3, 3),
      });
    case "object":
      return validObject(schema, pool);
    default:
      return fc.constant(null);
  }
}

function validString(schema: Schema, pool: IdPool): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = Math.min(schema.maxLength ?? 40, Math.max(min, 40));
  switch (schema.format) {
    case "uuid":
      return pool.ids.length > 0
        ? fc.oneof(fc.constantFrom(...pool.ids), fc.uuid({ version: 4 }))
        : fc.uuid();
    case "date-time":
      return futureInstant;
    case "date":
      return futureInstant.map((s) => s.slice(0, 10));
    case "email":
      return fc.emailAddress().filter((e) => e.length <= (schema.maxLength ?? 254));
    case "uri":
    case "url":
      return fc.webUrl();
  }
  if (schema.pattern) {
    const longest = schema.maxLength ?? Infinity;
    return fc.stringMatching(new RegExp(schema.pattern)).filter((s) =>
      s.length >= min && s.length <= longest
    );
  }
  return fc.string({ minLength: min, maxLength: max, unit: "grapheme-ascii" })
    .filter((s) => s.trim().length >= min);
}

function validObject(schema: Schema, pool: IdPool): fc.Arbitrary<Record<string, unknown>> {
  const properties: Record<string, Schema> = schema.properties ?? {};
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, inner] of Object.entries(properties)) model[name] = validValue(inner, pool);
  return fc.record(model, { requiredKeys: schema.required ?? [] }) as fc.Arbitrary<Record<string, unknown>>;
}

// ---------------------------------------------------------------------------
// Invalid values: each certainly breaks the schema it is aimed at
// ---------------------------------------------------------------------------

/** A value that no valid request may carry in a field of this schema, and how it is wrong. */
export function invalidValue(schema: Schema): fc.Arbitrary<{ value: unknown; how: string }> | undefined {
  const type = Array.isArray(schema?.type) ? schema.type.find((t: string) => t !== "null") : schema?.type;
  const nullable = Array.isArray(schema?.type) && schema.type.includes("null");
  const options: fc.Arbitrary<{ value: unknown; how: string }>[] = [];
  const tag = (how: string) => (value: unknown) => ({ value, how });

  if (type === "string" || schema?.enum) {
    options.push(
      fc.oneof(fc.integer(), fc.boolean(), fc.constant({}), fc.constant([])).map(tag("wrong type")),
    );
    options.push(
      fc.constantFrom(100_001, 250_000).map((n) => ({ value: "é".repeat(n), how: "huge string" })),
    );
    if (schema.format === "uuid") {
      options.push(
        fc.oneof(
          fc.string({ maxLength: 40 }),
          fc.uuid().map((u) => u.slice(0, 35)),
          fc.constant("' or 1=1 --"),
        )
          .filter((s) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s))
          .map(tag("bad uuid")),
      );
    }
    if (schema.format === "date-time" || schema.format === "date") {
      options.push(
        fc.constantFrom("2027-13-45T25:61:00Z", "yesterday", "2027-02-30", "1e10", "0000-00-00T00:00:00Z", "")
          .map(tag("bad date")),
      );
    }
    if (schema.enum) {
      options.push(
        fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !schema.enum.includes(s)).map(
          tag("not in enum"),
        ),
      );
    }
    if (schema.minLength && schema.minLength > 1) {
      options.push(fc.constant("").map(tag("too short")));
    }
  } else if (type === "integer" || type === "number") {
    options.push(fc.oneof(fc.string({ minLength: 1 }), fc.boolean(), fc.constant({})).map(tag("wrong type")));
    if (schema.minimum !== undefined) {
      options.push(
        fc.oneof(fc.constant(schema.minimum - 1), fc.constant(-1e308), fc.constant(Number.MIN_SAFE_INTEGER))
          .map(tag("negative")),
      );
    }
    if (schema.maximum !== undefined) {
      options.push(fc.oneof(fc.constant(schema.maximum + 1), fc.constant(1e308)).map(tag("enormous")));
    }
    if (type === "integer") options.push(fc.constant(1.5).map(tag("fraction")));
  } else if (type === "boolean") {
    options.push(fc.oneof(fc.constant("true"), fc.constant(1), fc.constant(null)).map(tag("wrong type")));
  } else if (type === "array") {
    options.push(fc.oneof(fc.constant("x"), fc.constant({}), fc.integer()).map(tag("wrong type")));
    if (schema.maxItems !== undefined) {
      options.push(fc.constant(Array(schema.maxItems + 1).fill(null)).map(tag("too many items")));
    }
  } else if (type === "object") {
    options.push(fc.oneof(fc.constant("x"), fc.constant([]), fc.integer()).map(tag("wrong type")));
  }
  if (!nullable && type) options.push(fc.constant(null).map(tag("null")));
  return options.length > 0 ? fc.oneof(...options) : undefined;
}

/** A string that no path or query parameter of this schema accepts. */
function invalidParam(schema: Schema): fc.Arbitrary<{ value: string; how: string }> | undefined {
  if (schema?.format === "uuid") {
    return fc.constantFrom("not-a-uuid", "1", "00000000-0000-0000-0000", "%27%20or%201%3D1").map((value) => ({
      value,
      how: "bad uuid",
    }));
  }
  if (schema?.format === "date-time") {
    return fc.constantFrom("2027-13-45T25:61:00Z", "tomorrow", "2027-02-30").map((value) => ({
      value,
      how: "bad date",
    }));
  }
  if (schema?.type === "integer") {
    const bad = ["-1", "0", "abc", "1.5", "99999999999999999999", String((schema.maximum ?? 200) + 1)]
      .filter((v) =>
        !(Number.isInteger(Number(v)) && Number(v) >= (schema.minimum ?? -Infinity) &&
          Number(v) <= (schema.maximum ?? Infinity))
      );
    return fc.constantFrom(...bad).map((value) => ({ value, how: "bad number" }));
  }
  if (schema?.enum) {
    return fc.constantFrom("nope", "pending", "ÑANDÚ").filter((v) => !schema.enum.includes(v))
      .map((value) => ({ value, how: "not in enum" }));
  }
  if (schema?.type === "string" && schema.maxLength) {
    return fc.constant({ value: "x".repeat(schema.maxLength + 1), how: "too long" });
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Whole requests
// ---------------------------------------------------------------------------

const ROLES: Role[] = ["admin", "doctor", "patient"];

function fillPath(op: Operation, values: Record<string, string>): string {
  return op.path.replace(/\{([^}]+)\}/g, (_, name) => encodeURIComponent(values[name]));
}

function queryString(entries: [string, string][]): string {
  if (entries.length === 0) return "";
  return "?" + entries.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
}

/** Valid path parameters (real ids from the pool, or fresh uuids; room names and identities as text). */
function validPathParams(op: Operation, pool: IdPool): fc.Arbitrary<Record<string, string>> {
  const model: Record<string, fc.Arbitrary<string>> = {};
  for (const name of op.pathParams) {
    const schema = op.pathSchemas[name];
    model[name] = Array.isArray(schema?.enum)
      ? fc.constantFrom(...(schema.enum as string[]))
      : /id$/i.test(name) && name !== "identity"
      ? validString({ format: "uuid" }, pool)
      : fc.oneof(fc.constant(`consultation-${crypto.randomUUID()}`), fc.stringMatching(/^[a-z0-9-]{1,40}$/));
  }
  return fc.record(model);
}

function validQuery(op: Operation, pool: IdPool): fc.Arbitrary<[string, string][]> {
  const entries = op.query.map((q) => {
    const entry = validValue(q.schema, pool).map((v) => [q.name, String(v)] as [string, string]);
    return q.required ? entry : fc.option(entry, { nil: undefined });
  });
  return fc.tuple(...entries).map((all) =>
    orderRange(all.filter((e): e is [string, string] => e !== undefined))
  );
}

/** A valid `from`/`to` pair is in order: the rules refuse a range that ends before it starts. */
function orderRange(entries: [string, string][]): [string, string][] {
  const from = entries.find(([k]) => k === "from");
  const to = entries.find(([k]) => k === "to");
  if (from && to && from[1] >= to[1]) {
    to[1] = new Date(Date.parse(from[1]) + 7 * 86_400_000).toISOString();
  }
  return entries;
}

const JSON_HEADERS = { "Content-Type": "application/json" };

export function requestFor(op: Operation, pool: IdPool): fc.Arbitrary<FuzzRequest> {
  const role = fc.constantFrom<Role>(...ROLES);
  const params = validPathParams(op, pool);
  const query = validQuery(op, pool);
  const body = op.body ? validValue(op.body, pool) : fc.constant(undefined);
  const base = fc.record({ role, params, query, body });
  const build = (
    r: { role: Role; params: Record<string, string>; query: [string, string][]; body: unknown },
    fault: Fault,
    overrides: Partial<FuzzRequest> = {},
  ): FuzzRequest => ({
    operation: op,
    method: op.method,
    path: fillPath(op, r.params) + queryString(r.query),
    role: r.role,
    token: "valid",
    headers: op.body ? { ...JSON_HEADERS } : {},
    body: op.body ? JSON.stringify(r.body) : undefined,
    fault,
    ...overrides,
  });

  const kinds: fc.Arbitrary<FuzzRequest>[] = [
    // A valid request by any role: the rules and RLS decide, never a 5xx.
    base.map((r) => build(r, { kind: "none" })),
  ];

  if (!op.isPublic && op.path !== "/health") {
    kinds.push(
      base.chain((r) =>
        fc.constantFrom<"missing" | "forged">("missing", "forged").map((token) =>
          build(r, { kind: "auth", how: `${token} token` }, { token })
        )
      ),
    );
  }

  for (const name of op.pathParams) {
    // A FHIR id (a pattern, not a uuid) may be "not-a-uuid": it is only not found.
    const notUuid = op.pathSchemas[name]?.pattern && op.pathSchemas[name]?.format !== "uuid";
    const bad = /id$/i.test(name) && name !== "identity" && !notUuid
      ? invalidParam({ format: "uuid" })
      : undefined;
    if (!bad) continue;
    kinds.push(
      fc.tuple(base, bad).map(([r, b]) =>
        build({ ...r, params: { ...r.params, [name]: b.value } }, { kind: "field", field: name, how: b.how })
      ),
    );
  }

  for (const q of op.query) {
    const bad = invalidParam(q.schema);
    if (!bad) continue;
    kinds.push(
      fc.tuple(base, bad).map(([r, b]) =>
        build({ ...r, query: [...r.query.filter(([k]) => k !== q.name), [q.name, b.value]] }, {
          kind: "field",
          field: q.name,
          how: b.how,
        })
      ),
    );
  }

  // An unknown query parameter is refused naming it, never ignored (decision 12).
  kinds.push(
    fc.tuple(base, fc.stringMatching(/^[a-zA-Z0-9_]{1,12}$/)).map(([r, key]) =>
      build({ ...r, query: [...r.query, [`x_${key}`, "1"]] }, {
        kind: "field",
        field: `x_${key}`,
        how: "unknown",
      })
    ),
  );

  if (op.body) {
    const properties: Record<string, Schema> = op.body.properties ?? {};
    for (const [field, schema] of Object.entries(properties)) {
      const invalid = invalidValue(schema);
      if (!invalid) continue;
      kinds.push(
        fc.tuple(base, invalid).map(([r, bad]) =>
          build({ ...r, body: { ...(r.body as object), [field]: bad.value } }, {
            kind: "field",
            field,
            how: bad.how,
          })
        ),
      );
    }
    for (const field of (op.body.required ?? []) as string[]) {
      kinds.push(base.map((r) => {
        const { [field]: _, ...rest } = r.body as Record<string, unknown>;
        return build({ ...r, body: rest }, { kind: "field", field, how: "missing" });
      }));
    }
    // An unknown field is refused naming it, never dropped (decision 12), unless the schema
    // takes any field (a FHIR resource).
    const open = op.body.additionalProperties !== undefined && op.body.additionalProperties !== false;
    if (!open) {
      kinds.push(
        fc.tuple(base, fc.stringMatching(/^[a-zA-Z0-9_]{1,12}$/), fc.jsonValue({ maxDepth: 2 })).map((
          [r, key, value],
        ) =>
          build({ ...r, body: { ...(r.body as object), [`x_${key}`]: value } }, {
            kind: "field",
            field: `x_${key}`,
            how: "unknown",
          })
        ),
      );
    }
    kinds.push(
      fc.tuple(
        base,
        fc.oneof(
          fc.constant({ raw: "{oops", how: "bad JSON" }),
          fc.constant({ raw: "", how: "empty body" }),
          fc.constant({ raw: "[1,2,3]", how: "array body" }),
          fc.constant({ raw: "null", how: "null body" }),
          fc.constant({ raw: '"text"', how: "string body" }),
          fc.constant({ raw: "[".repeat(5000) + "]".repeat(5000), how: "deep nesting" }),
          fc.string({ maxLength: 200 }).map((raw) => ({ raw, how: "random text" })),
        ),
      ).map(([r, b]) => build(r, { kind: "body", how: b.how }, { body: b.raw })),
    );
    kinds.push(
      fc.tuple(
        base,
        fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"),
      )
        .map(([r, type]) =>
          build(r, { kind: "body", how: `content type ${type}` }, { headers: { "Content-Type": type } })
        ),
    );
  }
  return fc.oneof(...kinds);
}
