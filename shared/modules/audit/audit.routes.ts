import { createRoute, z } from "@hono/zod-openapi";
import { InstantSchema, IsoDateTime } from "../../app/fields.ts";
import { okPage, PageQuerySchema, problems } from "../../app/openapi.ts";

export const AuditEventSchema = z.object({
  id: z.uuid(),
  occurredAt: IsoDateTime,
  actorId: z.uuid().nullable(),
  actorRole: z.enum(["admin", "doctor", "patient"]).nullable(),
  action: z.enum(["read", "create", "update", "delete"]),
  resourceType: z.enum(["patient", "antecedents", "clinic_history"]),
  resourceId: z.uuid(),
}).openapi("AuditEvent");

export const list = createRoute({
  method: "get",
  path: "/v1/audit-events",
  operationId: "listAuditEvents",
  tags: ["Audit"],
  summary: "Who read or wrote which clinical record, oldest first (admin)",
  request: {
    query: PageQuerySchema.extend({
      userId: z.uuid().optional().openapi({ param: { name: "userId", in: "query" } }),
      resourceId: z.uuid().optional().openapi({ param: { name: "resourceId", in: "query" } }),
      resourceType: z.enum(["patient", "antecedents", "clinic_history"]).optional()
        .openapi({ param: { name: "resourceType", in: "query" } }),
      from: InstantSchema.optional().openapi({ param: { name: "from", in: "query" } }),
      to: InstantSchema.optional().openapi({ param: { name: "to", in: "query" } }),
    }),
  },
  responses: { 200: okPage(AuditEventSchema, "A page of audit events"), ...problems(403) },
});

export type ListRoute = typeof list;
