/**
 * FHIR's error shape, on the /v1/fhir routes only: an OperationOutcome in
 * application/fhir+json whose issues name the element at fault
 * (`Bundle.entry[2].resource.valueQuantity.unit`). Every other route keeps
 * ProblemDetails; the same ApiError the rest of the app throws is turned into
 * an OperationOutcome here, so the codes and statuses stay the contract's.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { toApiError } from "../../app/on-error.ts";
import { ApiError, type ErrorCode } from "../../app/problem.ts";
import { describeError } from "../../app/logger.ts";
import type { AppBindings } from "../../app/types.ts";
import { FHIR_JSON } from "./fhir.mappers.ts";

export type IssueCode =
  | "invalid"
  | "structure"
  | "required"
  | "value"
  | "not-supported"
  | "not-found"
  | "forbidden"
  | "security"
  | "login"
  | "duplicate"
  | "too-costly"
  | "conflict"
  | "processing"
  | "throttled"
  | "exception"
  | "transient";

export interface Issue {
  code: IssueCode;
  diagnostics: string;
  expression?: string[];
}

/**
 * A refusal on a FHIR route: an ApiError (so the app's error handler treats
 * it as an expected 4xx, not a crash) that carries its OperationOutcome's issues.
 */
export class FhirError extends ApiError {
  constructor(code: ErrorCode, readonly issues: Issue[]) {
    super(code, issues.map((i) => i.diagnostics).join("; "), {
      errors: issues.map((i) => ({ field: i.expression?.[0] ?? "body", message: i.diagnostics })),
    });
    this.name = "FhirError";
  }
}

export const fhirError = (code: ErrorCode, issue: IssueCode, diagnostics: string, expression?: string) =>
  new FhirError(code, [{ code: issue, diagnostics, ...(expression ? { expression: [expression] } : {}) }]);

export function operationOutcome(issues: Issue[]) {
  return {
    resourceType: "OperationOutcome",
    issue: issues.map((i) => ({ severity: "error", ...i })),
  };
}

const BY_STATUS: Partial<Record<number, IssueCode>> = {
  400: "invalid",
  401: "login",
  403: "forbidden",
  404: "not-found",
  409: "conflict",
  413: "too-costly",
  415: "not-supported",
  429: "throttled",
  503: "transient",
};

/** An ApiError (or anything thrown) as the OperationOutcome issues it stands for. */
function toFhirError(error: unknown): { status: ContentfulStatusCode; issues: Issue[] } {
  if (error instanceof FhirError) {
    return { status: error.status as ContentfulStatusCode, issues: error.issues };
  }
  const api = toApiError(error);
  const code = BY_STATUS[api.status] ?? "exception";
  const fields = api.errors ?? [];
  const issues: Issue[] = fields.length
    ? fields.map((f) => ({ code, diagnostics: `${api.code}: ${f.message}`, expression: [f.field] }))
    : [{ code, diagnostics: `${api.code}: ${api.detail}` }];
  return { status: api.status as ContentfulStatusCode, issues };
}

/**
 * A FHIR JSON answer. Typed `never` because the routes declare FHIR media
 * types, which Hono's typed responses (c.json) do not model; the OpenAPI
 * document still declares them.
 */
export function fhirResponse(c: Context, status: ContentfulStatusCode, body: unknown, headers = {}): never {
  return c.body(JSON.stringify(body), status, { ...headers, "Content-Type": FHIR_JSON }) as never;
}

/**
 * Wraps the FHIR routes: whatever the handler (or validation) threw leaves
 * as an OperationOutcome. Hono has already answered it as ProblemDetails
 * through the app's onError when we get here; c.error says what it was.
 */
export const operationOutcomes: MiddlewareHandler<AppBindings> = async (c, next) => {
  await next();
  if (!c.error) return;
  const error = toFhirError(c.error);
  if (error.status >= 500) c.var.log.error("fhir route failed", describeError(c.error));
  const retryAfter = c.res.headers.get("Retry-After");
  c.res = undefined;
  c.res = fhirResponse(
    c,
    error.status,
    operationOutcome(error.issues),
    retryAfter ? { "Retry-After": retryAfter } : {},
  );
};
