import { decodeCursor, paginate } from "../../app/cursor.ts";
import { envelope, pagedEnvelope } from "../../app/envelope.ts";
import { notFound } from "../../app/problem.ts";
import { requireRole } from "../../app/roles.ts";
import type { AppRouteHandler } from "../../app/types.ts";
import type { Queryable } from "../../db/database.ts";
import type { ByPatientRoute, CreateRoute, GetOneRoute, ListRoute } from "./clinic-histories.routes.ts";

/** The document is built by SQL (app.clinic_history_document) in the contract's shape. */
interface DocumentRow {
  id: string;
  cursor_created_at: string;
  // deno-lint-ignore no-explicit-any
  document: any;
}

const DOCUMENT_SELECT = `
  select h.id, h.created_at::text as cursor_created_at, app.clinic_history_document(h) as document
    from public.clinic_histories h`;

const asDocument = (row: DocumentRow) => {
  const document = typeof row.document === "string" ? JSON.parse(row.document) : row.document;
  if (document.prescription === null) delete document.prescription;
  return document;
};

const auditRead = (tx: Queryable, ids: string[]) =>
  ids.length
    ? tx.query("select app.audit('read', 'clinic_history', $1::uuid[])", [ids])
    : Promise.resolve([]);

async function page(tx: Queryable, where: string, params: unknown[], limit: number, cursor?: string) {
  const after = decodeCursor(cursor);
  const n = params.length;
  const rows = await tx.query<DocumentRow>(
    `${DOCUMENT_SELECT}
      where ${where}
        and ($${n + 1}::text is null or (h.created_at, h.id) > ($${n + 1}::text::timestamptz, $${
      n + 2
    }::uuid))
      order by h.created_at, h.id
      limit $${n + 3}`,
    [...params, after?.createdAt ?? null, after?.id ?? null, limit + 1],
  );
  const result = paginate(rows, limit, asDocument);
  await auditRead(tx, result.page.map((d: { id: string }) => d.id));
  return result;
}

export const create: AppRouteHandler<CreateRoute> = async (c) => {
  requireRole(c, "doctor");
  const body = c.req.valid("json");
  const document = await c.var.db.transaction(async (tx) => {
    const [{ id }] = await tx.query<{ id: string }>(
      "select app.create_clinic_history($1::text::jsonb) as id",
      [JSON.stringify(body)],
    );
    const [row] = await tx.query<DocumentRow>(`${DOCUMENT_SELECT} where h.id = $1`, [id]);
    return asDocument(row);
  });
  return c.json(envelope(document, "Historia clínica registrada"), 201);
};

export const list: AppRouteHandler<ListRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { limit, cursor } = c.req.valid("query");
  const result = await c.var.db.transaction((tx) => page(tx, "true", [], limit, cursor));
  return c.json(pagedEnvelope(result.page, result.nextCursor), 200);
};

export const getOne: AppRouteHandler<GetOneRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  const document = await c.var.db.transaction(async (tx) => {
    const [row] = await tx.query<DocumentRow>(`${DOCUMENT_SELECT} where h.id = $1`, [id]);
    if (!row) throw notFound("Historia clínica no encontrada");
    await auditRead(tx, [id]);
    return asDocument(row);
  });
  return c.json(envelope(document), 200);
};

export const byPatient: AppRouteHandler<ByPatientRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { patientId } = c.req.valid("param");
  const { limit, cursor } = c.req.valid("query");
  const result = await c.var.db.transaction(async (tx) => {
    const [visible] = await tx.query<{ ok: boolean }>("select app.can_read_clinical_data($1) as ok", [
      patientId,
    ]);
    if (!visible.ok) throw notFound("Paciente no encontrado");
    return await page(tx, "h.patient_id = $1", [patientId], limit, cursor);
  });
  return c.json(pagedEnvelope(result.page, result.nextCursor), 200);
};
