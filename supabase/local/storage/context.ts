/** What every Storage route works with, and the small request helpers they share. */
import type { TenantKeys } from "../tenant-keys.ts";
import { ERRORS } from "./errors.ts";
import type { FileStore } from "./files.ts";
import type { ObjectStore } from "./objects.ts";

export interface StorageContext {
  /** The project's JWT secret, as the HMAC key that signs and verifies signed URLs. */
  key: CryptoKey;
  /** What callers' JWTs are verified with: the project's secret and JWKS. */
  tenantKeys: TenantKeys;
  objects: ObjectStore;
  files: FileStore;
  /** How long a signed upload URL lasts, in seconds. */
  uploadUrlExpiresIn: number;
}

/** A route's place in the URL: the bucket, the object's key (decoded), the query. */
export interface Target {
  bucket: string;
  key: string;
  query: URLSearchParams;
}

/** Supabase's default upload cap (FILE_SIZE_LIMIT) where a bucket sets none. */
export const GLOBAL_FILE_SIZE_LIMIT = 50 * 1024 * 1024;

export const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8" },
  });

/**
 * A JSON body as Fastify gives it to Storage's routes: an empty body is `{}`
 * (its empty-json-body plugin), anything else must parse, and be an object.
 */
export async function readJsonBody(request: Request): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (!text.trim()) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw ERRORS.invalidJsonBody();
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw ERRORS.validation("body must be object");
  }
  return value as Record<string, unknown>;
}

/** `expiresIn` as Storage's body schema takes it (an integer >= 1; ajv coerces numeric strings). */
export function expiresInOf(body: Record<string, unknown>): number {
  if (!("expiresIn" in body)) throw ERRORS.validation("body must have required property 'expiresIn'");
  const raw = body.expiresIn;
  const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw ERRORS.validation("body/expiresIn must be integer");
  }
  if (value < 1) throw ERRORS.validation("body/expiresIn must be >= 1");
  return value;
}

/** A required query parameter, as Fastify's querystring schema refuses its absence. */
export function requiredQuery(query: URLSearchParams, name: string): string {
  const value = query.get(name);
  if (value === null) throw ERRORS.validation(`querystring must have required property '${name}'`);
  return value;
}

/** The body's field `name` under ajv's rules (`path` names it in messages), or undefined when absent. */
export function field(
  body: Record<string, unknown>,
  name: string,
  rule: { type: "string" | "boolean" | "object" } | { type: "integer"; min: number } | {
    type: "enum";
    values: readonly string[];
  },
  path = `body/${name}`,
): unknown {
  if (!(name in body) || body[name] === undefined) return undefined;
  const raw = body[name];
  switch (rule.type) {
    case "string":
      // ajv's coercion: a number or boolean becomes its text.
      if (typeof raw === "number" || typeof raw === "boolean") return String(raw);
      if (typeof raw !== "string") throw ERRORS.validation(`${path} must be string`);
      return raw;
    case "boolean":
      if (raw === "true" || raw === "false") return raw === "true";
      if (typeof raw !== "boolean") throw ERRORS.validation(`${path} must be boolean`);
      return raw;
    case "object":
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        throw ERRORS.validation(`${path} must be object`);
      }
      return raw;
    case "enum":
      if (typeof raw !== "string" || !rule.values.includes(raw)) {
        throw ERRORS.validation(`${path} must be equal to one of the allowed values`);
      }
      return raw;
    case "integer": {
      const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
      if (typeof value !== "number" || !Number.isInteger(value)) {
        throw ERRORS.validation(`${path} must be integer`);
      }
      if (value < rule.min) throw ERRORS.validation(`${path} must be >= ${rule.min}`);
      return value;
    }
  }
}

/** A field the body schema requires. */
export function requiredField(
  body: Record<string, unknown>,
  name: string,
  rule: Parameters<typeof field>[2],
  within = "body",
): unknown {
  const value = field(body, name, rule, `${within}/${name}`);
  if (value === undefined) throw ERRORS.validation(`${within} must have required property '${name}'`);
  return value;
}
