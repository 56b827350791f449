import { decodeCursor, paginate } from "../../app/cursor.ts";
import { envelope, pagedEnvelope } from "../../app/envelope.ts";
import { notFound } from "../../app/problem.ts";
import type { AppRouteHandler } from "../../app/types.ts";
import type { Queryable } from "../../db/database.ts";
import {
  APPOINTMENT_COLUMNS,
  APPOINTMENT_FROM,
  type AppointmentRow,
  listSql,
  toAppointment,
} from "./appointments.queries.ts";
import type {
  ByPatientRoute,
  CancelRoute,
  CreateRoute,
  GetOneRoute,
  ListRoute,
  UpdateRoute,
} from "./appointments.routes.ts";

const APPOINTMENT_NOT_FOUND = "Cita no encontrada";

async function readAppointment(tx: Queryable, id: string) {
  const [row] = await tx.query<AppointmentRow>(
    `select ${APPOINTMENT_COLUMNS} ${APPOINTMENT_FROM} where a.id = $1`,
    [
      id,
    ],
  );
  if (!row) throw notFound(APPOINTMENT_NOT_FOUND);
  return toAppointment(row);
}

export const create: AppRouteHandler<CreateRoute> = async (c) => {
  const body = c.req.valid("json");
  const appointment = await c.var.db.transaction(async (tx) => {
    const [{ id }] = await tx.query<{ id: string }>(
      `insert into public.appointments
         (patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, created_by)
       values ($1, $2, $3, $4, $5::text::timestamptz, $6::text::timestamptz, auth.uid())
       returning id`,
      [
        body.patientId,
        body.doctorId,
        body.specialtyId,
        body.reason,
        body.startAppointment,
        body.endAppointment,
      ],
    );
    return await readAppointment(tx, id);
  });
  return c.json(envelope(appointment, "Cita agendada"), 201);
};

export const list: AppRouteHandler<ListRoute> = async (c) => {
  const q = c.req.valid("query");
  const after = decodeCursor(q.cursor);
  const rows = await c.var.db.query<AppointmentRow>(listSql(), [
    after?.createdAt ?? null,
    after?.id ?? null,
    q.from ?? null,
    q.to ?? null,
    q.status ?? null,
    q.doctorId ?? null,
    q.patientId ?? null,
    q.limit + 1,
  ]);
  const { page, nextCursor } = paginate(rows, q.limit, toAppointment);
  return c.json(pagedEnvelope(page, nextCursor), 200);
};

export const getOne: AppRouteHandler<GetOneRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const appointment = await c.var.db.transaction((tx) => readAppointment(tx, id));
  return c.json(envelope(appointment), 200);
};

export const update: AppRouteHandler<UpdateRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  const appointment = await c.var.db.transaction(async (tx) => {
    const updated = await tx.query(
      `update public.appointments set
         starts_at = coalesce($2::text::timestamptz, starts_at),
         ends_at = coalesce($3::text::timestamptz, ends_at),
         status = coalesce($4::text::public.appointment_status, status),
         reason = coalesce($5, reason)
       where id = $1
       returning id`,
      [
        id,
        body.startAppointment ?? null,
        body.endAppointment ?? null,
        body.status ?? null,
        body.reason ?? null,
      ],
    );
    if (!updated.length) throw notFound(APPOINTMENT_NOT_FOUND);
    return await readAppointment(tx, id);
  });
  return c.json(envelope(appointment, "Cita actualizada"), 200);
};

export const cancel: AppRouteHandler<CancelRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const appointment = await c.var.db.transaction(async (tx) => {
    const updated = await tx.query(
      "update public.appointments set status = 'CANCELLED' where id = $1 returning id",
      [id],
    );
    if (!updated.length) throw notFound(APPOINTMENT_NOT_FOUND);
    return await readAppointment(tx, id);
  });
  return c.json(envelope(appointment, "Cita cancelada"), 200);
};

export const byPatient: AppRouteHandler<ByPatientRoute> = async (c) => {
  const { patientId } = c.req.valid("param");
  const { limit, cursor } = c.req.valid("query");
  const after = decodeCursor(cursor);
  const result = await c.var.db.transaction(async (tx) => {
    const [visible] = await tx.query<{ ok: boolean }>("select app.can_read_patient($1) as ok", [patientId]);
    if (!visible.ok) throw notFound("Paciente no encontrado");
    const rows = await tx.query<AppointmentRow>(listSql(), [
      after?.createdAt ?? null,
      after?.id ?? null,
      null,
      null,
      null,
      null,
      patientId,
      limit + 1,
    ]);
    return paginate(rows, limit, toAppointment);
  });
  return c.json(pagedEnvelope(result.page, result.nextCursor), 200);
};
