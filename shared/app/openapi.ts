/** Helpers that keep route declarations short and every response declared. */
import { z } from "@hono/zod-openapi";
import { envelopeSchema, pagedEnvelopeSchema } from "./envelope.ts";
import { ERROR_CODES } from "./problem.ts";

export const ProblemDetailsSchema = z.object({
  type: z.string().openapi({ example: "https://consultorio.dev/problems/validation" }),
  title: z.string(),
  status: z.number().int(),
  code: z.enum(Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES]),
  detail: z.string(),
  errors: z.array(z.object({
    field: z.string(),
    message: z.string(),
    rejectedValue: z.unknown().optional(),
  })).optional(),
  timestamp: z.string().openapi({ format: "date-time" }),
}).openapi("ProblemDetails");

export const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: "Invalid input (VAL_001 names each field; FILE_003, CHAT_002)",
  401: "Missing, invalid, expired or revoked token (AUTH_001)",
  403: "Not allowed for this role (AUTH_002; CHAT_001, CHAT_003)",
  404: "Not found, or not visible to the caller (RES_001)",
  409: "Conflict (RES_002, APP_001, CON_001, CON_002, CON_003, FILE_002, VID_001, VID_002, CHAT_004)",
  413: "Body or file too large (REQ_001, FILE_001)",
  415: "Body is not JSON (REQ_002)",
  422: "Unprocessable",
  429: "Too many requests (RATE_001), with Retry-After",
  500: "Unexpected error (SRV_001)",
  503:
    "Temporarily unavailable, with Retry-After (SRV_002: a conflict or an outside service; SRV_003: the database)",
};

export type ProblemStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 503;

/** Declares ProblemDetails answers for the given statuses. */
export function problems<const S extends ProblemStatus>(...statuses: S[]) {
  return Object.fromEntries(statuses.map((status) => [status, {
    description: PROBLEM_DESCRIPTIONS[status],
    content: { "application/problem+json": { schema: ProblemDetailsSchema } },
  }])) as {
    [K in S]: {
      description: string;
      content: { "application/problem+json": { schema: typeof ProblemDetailsSchema } };
    };
  };
}

// The answers an operation's shape implies (400 with input, 401 when authenticated, 404 with a path id,
// 413 with a body, 500, 503 where the database is needed) are added by openapi-document.ts: a route
// declares only the statuses it adds.

export function jsonBody<T extends z.ZodType>(schema: T, description = "JSON body") {
  return { required: true, description, content: { "application/json": { schema } } };
}

export function ok<T extends z.ZodType>(data: T, description: string) {
  return { description, content: { "application/json": { schema: envelopeSchema(data) } } };
}

export function okPage<T extends z.ZodType>(item: T, description: string) {
  return { description, content: { "application/json": { schema: pagedEnvelopeSchema(item) } } };
}

export const UuidParamsSchema = z.object({
  id: z.uuid().openapi({
    param: { name: "id", in: "path" },
    example: "550e8400-e29b-41d4-a716-446655440000",
  }),
});

export const PatientParamsSchema = z.object({
  patientId: z.uuid().openapi({ param: { name: "patientId", in: "path" } }),
});

export const PageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({
    param: { name: "limit", in: "query" },
    description: "Page size (1-200, default 50)",
  }),
  cursor: z.string().max(512).optional().openapi({
    param: { name: "cursor", in: "query" },
    description: "Opaque cursor from pageInfo.nextCursor",
  }),
});

/** For the lists that can count: `includeTotal=true` adds pageInfo.total, at the cost of a count. */
export const IncludeTotalQuerySchema = z.object({
  includeTotal: z.enum(["true", "false"]).optional().openapi({
    param: { name: "includeTotal", in: "query" },
    description: "true adds pageInfo.total: every row the filters and the caller's access match (a count)",
  }),
});
