import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { ApiError, type FieldError } from "./problem.ts";
import type { AppBindings } from "./types.ts";

z.config(z.locales.es());

/** `["prescription", "medications", 0, "quantity"]` → `prescription.medications[0].quantity` */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => typeof key === "number" ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key),
    "",
  );
}

const UNKNOWN_FIELD = "Campo desconocido";

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let at = input;
  for (const key of path) {
    if (at === null || typeof at !== "object") return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

// What zod says of an absent value: a type, an enum or literal, a union expected.
const MISSING_CODES = new Set<string>(["invalid_type", "invalid_value", "invalid_union"]);

/**
 * A zod failure as a ProblemDetails. `input` is what was sent: a type,
 * value or union issue where the sent value is absent is a missing field.
 * VAL_002 when every field error is a missing one, VAL_001 when any is
 * invalid (wrong type, format, unknown field): the general code wins, and
 * `errors[]` still names each field.
 */
export function zodToApiError(
  error: z.ZodError,
  target?: string,
  input?: unknown,
  extra: FieldError[] = [],
): ApiError {
  let missingOnly = extra.length === 0;
  const errors: FieldError[] = error.issues.flatMap((issue) => {
    const at = fieldPath(issue.path);
    // A strict object's unknown fields: each named itself, not the object that holds them.
    if (issue.code === "unrecognized_keys") {
      missingOnly = false;
      return issue.keys.map((key) => ({ field: at ? `${at}.${key}` : key, message: issue.message }));
    }
    const missing = MISSING_CODES.has(issue.code) && issue.path.length > 0 &&
      valueAt(input, issue.path) === undefined;
    if (!missing) missingOnly = false;
    return [{ field: at || target || "body", message: issue.message }];
  });
  errors.push(...extra);
  return missingOnly && errors.length > 0
    ? new ApiError("VAL_002", "Falta un campo requerido", { errors })
    : new ApiError("VAL_001", "Los datos enviados no son válidos", { errors });
}

type AnySchema = z.core.$ZodType;
type Def = {
  type: string;
  shape?: Record<string, AnySchema>;
  catchall?: AnySchema;
  innerType?: AnySchema;
  element?: AnySchema;
  valueType?: AnySchema;
  options?: AnySchema[];
  in?: AnySchema;
  getter?: () => AnySchema;
};

/**
 * The fields `value` has that `schema` does not know, at any depth. zod's
 * default objects drop unknown keys silently; the contract (decision 12)
 * wants them refused. Objects that say what to do with extras (strict,
 * loose/passthrough: a `catchall`) are left to zod.
 */
export function unknownFields(
  schema: AnySchema,
  value: unknown,
  path: PropertyKey[] = [],
  out: FieldError[] = [],
): FieldError[] {
  const def = schema._zod.def as unknown as Def;
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "catch":
    case "nonoptional":
      return unknownFields(def.innerType!, value, path, out);
    case "pipe":
      return unknownFields(def.in!, value, path, out);
    case "lazy":
      return unknownFields(def.getter!(), value, path, out);
    case "array":
      if (Array.isArray(value)) {
        value.forEach((item, i) => unknownFields(def.element!, item, [...path, i], out));
      }
      return out;
    case "record":
      if (value && typeof value === "object" && !Array.isArray(value)) {
        for (const [key, item] of Object.entries(value)) {
          unknownFields(def.valueType!, item, [...path, key], out);
        }
      }
      return out;
    case "union": {
      // The option the value is: its fields are the known ones.
      const match = def.options!.find((option) => z.safeParse(option, value).success);
      return match ? unknownFields(match, value, path, out) : out;
    }
    case "object": {
      if (!value || typeof value !== "object" || Array.isArray(value) || def.catchall) return out;
      for (const [key, item] of Object.entries(value)) {
        const field = def.shape![key];
        if (field) unknownFields(field, item, [...path, key], out);
        else out.push({ field: fieldPath([...path, key]), message: UNKNOWN_FIELD });
      }
      return out;
    }
    default:
      return out;
  }
}

// zod-validator passes what was sent as `data` on a failure too.
type Result = { success: true; data?: unknown } | { success: false; error: z.ZodError; data?: unknown };
type Route = {
  request?: {
    query?: AnySchema;
    body?: { content?: Record<string, { schema?: unknown }> };
  };
  middleware?: MiddlewareHandler | MiddlewareHandler[];
};

const isForm = (route: Route) =>
  Object.keys(route.request?.body?.content ?? {}).some((t) => /form-urlencoded|multipart/i.test(t));

/** A route that declares no query: any parameter is unknown. */
const noQuery: MiddlewareHandler = async (c, next) => {
  const keys = Object.keys(c.req.queries());
  if (keys.length > 0) {
    throw new ApiError("VAL_001", "Los datos enviados no son válidos", {
      errors: keys.map((field) => ({ field, message: UNKNOWN_FIELD })),
    });
  }
  await next();
};

/**
 * A route as registered: unknown query parameters refused even where the
 * route declares none, except on form-encoded webhooks (Twilio signs its
 * callback URL as configured, query and all).
 */
function withQueryCheck(route: Route): Route {
  if (route.request?.query || isForm(route)) return route;
  const middleware = route.middleware ? [route.middleware].flat() : [];
  return { ...route, middleware: [noQuery, ...middleware] };
}

function jsonSchemaOf(route: Route): AnySchema | undefined {
  const content = route.request?.body?.content ?? {};
  const type = Object.keys(content).find((t) => /^application\/([a-z.+-]+\+)?json/i.test(t));
  const schema = type ? content[type]?.schema : undefined;
  return schema && typeof schema === "object" && "_zod" in schema ? schema as AnySchema : undefined;
}

/**
 * The validation of one route: zod's own, then unknown query parameters
 * and JSON body fields refused. Form bodies (Twilio's webhooks send dozens
 * of fields) keep zod's stripping; params and headers are not the caller's
 * free-form input.
 */
function validationHook(route: Route) {
  const bodySchema = jsonSchemaOf(route);
  return async (result: Result & { target: string }, c: Context) => {
    let extra: FieldError[] = [];
    let input = result.data;
    if (result.target === "query" && route.request?.query) {
      input = c.req.query();
      extra = unknownFields(route.request.query, input);
    } else if (result.target === "json" && bodySchema) {
      if (result.success) input = await c.req.json().catch(() => undefined);
      extra = unknownFields(bodySchema, input);
    }
    if (!result.success) throw zodToApiError(result.error, result.target, input, extra);
    if (extra.length > 0) {
      throw new ApiError("VAL_001", "Los datos enviados no son válidos", { errors: extra });
    }
  };
}

/** For routes registered without a route object (none today): zod failures only. */
export function defaultValidationHook(result: Result & { target: string }) {
  if (!result.success) throw zodToApiError(result.error, result.target, result.data);
}

/**
 * Every module's router: zod failures become 400 ProblemDetails with one
 * entry per field (VAL_002 missing, VAL_001 invalid or unknown).
 */
export function createRouter() {
  const app = new OpenAPIHono<AppBindings>({ strict: false, defaultHook: defaultValidationHook });
  const register = app.openapi;
  app.openapi = ((route: Route, handler: unknown, hook?: unknown) =>
    // deno-lint-ignore no-explicit-any
    (register as any)(withQueryCheck(route), handler, hook ?? validationHook(route))) as typeof app.openapi;
  return app;
}
