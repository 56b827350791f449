import { decodeCursor, paginate } from "../../app/cursor.ts";
import { pagedEnvelope } from "../../app/envelope.ts";
import { iso } from "../../app/fields.ts";
import { requireRole } from "../../app/roles.ts";
import type { AppRouteHandler } from "../../app/types.ts";
import type { ListRoute } from "./audit.routes.ts";

interface AuditRow {
  id: string;
  occurred_at: Date | string;
  actor_id: string | null;
  actor_role: "admin" | "doctor" | "patient" | null;
  action: "read" | "create" | "update" | "delete";
  resource_type: "patient" | "antecedents" | "clinic_history";
  resource_id: string;
  cursor_created_at: string;
}

export const list: AppRouteHandler<ListRoute> = async (c) => {
  requireRole(c, "admin");
  const q = c.req.valid("query");
  const after = decodeCursor(q.cursor);
  const rows = await c.var.db.query<AuditRow>(
    `select id, occurred_at, actor_id, actor_role, action, resource_type, resource_id,
            occurred_at::text as cursor_created_at
       from public.audit_events
      where ($1::text is null or (occurred_at, id) > ($1::text::timestamptz, $2::uuid))
        and ($3::uuid is null or actor_id = $3)
        and ($4::uuid is null or resource_id = $4)
        and ($5::text is null or resource_type = $5)
        and ($6::text is null or occurred_at >= $6::text::timestamptz)
        and ($7::text is null or occurred_at < $7::text::timestamptz)
      order by occurred_at, id
      limit $8`,
    [
      after?.createdAt ?? null,
      after?.id ?? null,
      q.userId ?? null,
      q.resourceId ?? null,
      q.resourceType ?? null,
      q.from ?? null,
      q.to ?? null,
      q.limit + 1,
    ],
  );
  const { page, nextCursor } = paginate(rows, q.limit, (r) => ({
    id: r.id,
    occurredAt: iso(r.occurred_at),
    actorId: r.actor_id,
    actorRole: r.actor_role,
    action: r.action,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
  }));
  return c.json(pagedEnvelope(page, nextCursor), 200);
};
