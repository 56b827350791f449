/** The success envelope `{ success, data, message?, timestamp }` and its schema. */
import { z } from "@hono/zod-openapi";

export const PageInfoSchema = z.object({
  nextCursor: z.string().nullable().openapi({
    description: "Pass as `cursor` to get the next page; null on the last page.",
  }),
  total: z.number().int().optional().openapi({
    description: "With includeTotal=true only: how many rows the list has in all (the same filters and " +
      "row-level security; it costs a count)",
  }),
}).openapi("PageInfo");

export function envelope<T>(data: T, message?: string) {
  return {
    success: true as const,
    data,
    ...(message ? { message } : {}),
    timestamp: new Date().toISOString(),
  };
}

export function pagedEnvelope<T>(data: T[], nextCursor: string | null, message?: string) {
  return { ...envelope(data, message), pageInfo: { nextCursor } };
}

/** A page's envelope with `pageInfo.total` when the caller asked for it (includeTotal=true). */
export function pagedEnvelopeWithTotal<T>(data: T[], nextCursor: string | null, total: number | undefined) {
  const page = pagedEnvelope(data, nextCursor);
  return total === undefined ? page : { ...page, pageInfo: { nextCursor, total } };
}

export function envelopeSchema<T extends z.ZodType>(data: T) {
  return z.object({
    success: z.literal(true),
    data,
    message: z.string().optional(),
    timestamp: z.string().openapi({ format: "date-time" }),
  });
}

export function pagedEnvelopeSchema<T extends z.ZodType>(item: T) {
  return envelopeSchema(z.array(item)).extend({ pageInfo: PageInfoSchema });
}
