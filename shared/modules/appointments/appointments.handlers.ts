import type { Context } from "hono";
import { decodeCursor, paginate } from "../../app/cursor.ts";
import { envelope, pagedEnvelope, pagedEnvelopeWithTotal } from "../../app/envelope.ts";
import { iso } from "../../app/fields.ts";
import { ApiError, notFound } from "../../app/problem.ts";
import type { AppBindings, AppRouteHandler } from "../../app/types.ts";
import type { Queryable } from "../../db/database.ts";
import {
  APPOINTMENT_COLUMNS,
  APPOINTMENT_FROM,
  type AppointmentRow,
  countQuery,
  DOCTOR_SLOT_AT,
  INSERT_APPOINTMENT,
  listQuery,
  toAppointment,
  withReasons,
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
    withReasons(`select ${APPOINTMENT_COLUMNS} ${APPOINTMENT_FROM} where a.id = $1`),
    [
      id,
    ],
  );
  if (!row) throw notFound(APPOINTMENT_NOT_FOUND);
  return toAppointment(row);
}

export const create: AppRouteHandler<CreateRoute> = async (c) => {
  const body = c.req.valid("json");
  const patientId = body.patientId ?? (c.var.caller.user_role === "patient" ? c.var.caller.sub : undefined);
  if (!patientId) {
    throw new ApiError("VAL_002", "Falta el paciente", {
      errors: [{ field: "patientId", message: "requerido" }],
    });
  }
  const appointment = await c.var.db.transaction(async (tx) => {
    let { specialtyId, endAppointment } = body;
    if (!specialtyId || !endAppointment) {
      // Booking by slot: what is left out follows from the doctor and their free slot.
      const [slot] = await tx.query<{ specialty_id: string; ends_at: Date | string | null }>(
        DOCTOR_SLOT_AT,
        [body.doctorId, body.startAppointment],
      );
      if (!slot) throw notFound("Médico no encontrado");
      specialtyId ??= slot.specialty_id;
      if (!endAppointment) {
        if (!slot.ends_at) {
          throw new ApiError("APP_003", "Ningún turno libre del médico empieza a esa hora", {
            errors: [{ field: "startAppointment", message: "no es el inicio de un turno libre" }],
          });
        }
        endAppointment = iso(slot.ends_at);
      }
    }
    const [{ id }] = await tx.query<{ id: string }>(INSERT_APPOINTMENT, [
      patientId,
      body.doctorId,
      specialtyId,
      body.reason,
      body.startAppointment,
      endAppointment,
    ]);
    return await readAppointment(tx, id);
  });
  return c.json(envelope(appointment, "Cita agendada"), 201);
};

/**
 * RLS decides what the caller sees; saying it again as a filter lets the
 * planner use the caller's own index instead of the policies' OR.
 */
function callerScope(c: Context<AppBindings>): { doctorId?: string; patientId?: string } {
  const { sub, user_role } = c.var.caller;
  if (user_role === "doctor") return { doctorId: sub };
  if (user_role === "patient") return { patientId: sub };
  return {};
}

export const list: AppRouteHandler<ListRoute> = async (c) => {
  const q = c.req.valid("query");
  const scope = callerScope(c);
  if (
    (scope.doctorId && q.doctorId && q.doctorId !== scope.doctorId) ||
    (scope.patientId && q.patientId && q.patientId !== scope.patientId)
  ) {
    return c.json(pagedEnvelopeWithTotal([], null, q.includeTotal === "true" ? 0 : undefined), 200);
  }
  const filters = {
    from: q.from,
    to: q.to,
    status: q.status,
    doctorId: scope.doctorId ?? q.doctorId,
    patientId: scope.patientId ?? q.patientId,
  };
  const { sql, params } = listQuery({ ...filters, after: decodeCursor(q.cursor) }, q.limit);
  if (q.includeTotal !== "true") {
    const rows = await c.var.db.query<AppointmentRow>(sql, params);
    const { page, nextCursor } = paginate(rows, q.limit, toAppointment);
    return c.json(pagedEnvelope(page, nextCursor), 200);
  }
  const { page, nextCursor, total } = await c.var.db.transaction(async (tx) => {
    const count = countQuery(filters);
    const [{ total }] = await tx.query<{ total: number }>(count.sql, count.params);
    return { ...paginate(await tx.query<AppointmentRow>(sql, params), q.limit, toAppointment), total };
  });
  return c.json(pagedEnvelopeWithTotal(page, nextCursor, total), 200);
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
    // The reason is set only when given: `coalesce($5, reason)` would read it, which an admin may not.
    const updated = await tx.query(
      `update public.appointments set
         starts_at = coalesce($2::text::timestamptz, starts_at),
         ends_at = coalesce($3::text::timestamptz, ends_at),
         status = coalesce($4::text::public.appointment_status, status)
         ${body.reason === undefined ? "" : ", reason = $5"}
       where id = $1
       returning id`,
      [
        id,
        body.startAppointment ?? null,
        body.endAppointment ?? null,
        body.status ?? null,
        ...(body.reason === undefined ? [] : [body.reason]),
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
  const result = await c.var.db.transaction(async (tx) => {
    const [visible] = await tx.query<{ ok: boolean }>("select app.can_read_patient($1) as ok", [patientId]);
    if (!visible.ok) throw notFound("Paciente no encontrado");
    const { sql, params } = listQuery({ after: decodeCursor(cursor), patientId, ...callerScope(c) }, limit);
    const rows = await tx.query<AppointmentRow>(sql, params);
    return paginate(rows, limit, toAppointment);
  });
  return c.json(pagedEnvelope(result.page, result.nextCursor), 200);
};
