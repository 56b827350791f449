import { decodeCursor, paginate } from "../../app/cursor.ts";
import { envelope, pagedEnvelope } from "../../app/envelope.ts";
import { iso } from "../../app/fields.ts";
import { requireRole } from "../../app/roles.ts";
import type { AppRouteHandler } from "../../app/types.ts";
import type { CreateRoute, ListRoute } from "./specialties.routes.ts";

interface SpecialtyRow {
  id: string;
  name: string;
  description: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

const toSpecialty = (row: SpecialtyRow) => ({
  id: row.id,
  name: row.name,
  description: row.description,
  createdAt: iso(row.created_at),
  updatedAt: iso(row.updated_at),
});

export const list: AppRouteHandler<ListRoute> = async (c) => {
  const { limit, cursor } = c.req.valid("query");
  const after = decodeCursor(cursor);
  const rows = await c.var.db.query<SpecialtyRow & { cursor_created_at: string }>(
    `select id, name, description, created_at, updated_at, created_at::text as cursor_created_at
       from public.specialties
      where $1::text is null or (created_at, id) > ($1::text::timestamptz, $2::uuid)
      order by created_at, id
      limit $3`,
    [after?.createdAt ?? null, after?.id ?? null, limit + 1],
  );
  const { page, nextCursor } = paginate(rows, limit, toSpecialty);
  return c.json(pagedEnvelope(page, nextCursor), 200);
};

export const create: AppRouteHandler<CreateRoute> = async (c) => {
  requireRole(c, "admin");
  const { name, description } = c.req.valid("json");
  const [row] = await c.var.db.query<SpecialtyRow>(
    `insert into public.specialties (name, description) values ($1, $2)
     returning id, name, description, created_at, updated_at`,
    [name, description ?? null],
  );
  return c.json(envelope(toSpecialty(row), "Especialidad creada"), 201);
};
