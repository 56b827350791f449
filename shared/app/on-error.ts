import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { describeError } from "./logger.ts";
import { databaseUnavailable, isDatabaseUnavailable, isPgError, pgErrorToApiError } from "./pg-errors.ts";
import { ApiError, type ErrorCode } from "./problem.ts";
import type { AppBindings } from "./types.ts";

/** Hono's own exceptions (malformed JSON, body limit) in the contract's terms. */
function fromHttpException(error: HTTPException): ApiError {
  const byStatus: Partial<Record<number, [ErrorCode, string]>> = {
    400: ["VAL_001", "El cuerpo de la solicitud no es JSON válido"],
    401: ["AUTH_001", "Token no proporcionado o inválido"],
    413: ["REQ_001", "El cuerpo de la solicitud es demasiado grande"],
    415: ["REQ_002", "El cuerpo debe ser application/json"],
  };
  const [code, detail] = byStatus[error.status] ?? ["SRV_001", "Error interno"];
  return new ApiError(code, detail, {
    errors: code === "VAL_001" ? [{ field: "body", message: detail }] : undefined,
    cause: error,
  });
}

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof HTTPException) return fromHttpException(error);
  if (isDatabaseUnavailable(error)) return databaseUnavailable(error);
  return pgErrorToApiError(error) ??
    new ApiError("SRV_001", "Ha ocurrido un error inesperado", { cause: error });
}

export function problemResponse(c: Context, error: ApiError): Response {
  return c.body(JSON.stringify(error.toProblem()), error.status as ContentfulStatusCode, {
    ...error.headers,
    "Content-Type": "application/problem+json",
  });
}

/** The one error handler: every failure leaves as ProblemDetails. */
export function onError(error: unknown, c: Context<AppBindings>): Response {
  const apiError = toApiError(error);
  if (apiError.code === "SRV_001") {
    c.var.log?.error("unhandled error", describeError(error));
  } else if (apiError.code === "SRV_002" && isPgError(apiError.cause)) {
    c.var.log?.warn("transient database error", describeError(apiError.cause));
  } else if (apiError.code === "SRV_003") {
    c.var.log?.warn("database unavailable", describeError(apiError.cause));
  }
  return problemResponse(c, apiError);
}
