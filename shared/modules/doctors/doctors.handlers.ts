import type { Context } from "hono";
import { decodeCursor, paginate } from "../../app/cursor.ts";
import { envelope, pagedEnvelope } from "../../app/envelope.ts";
import { iso } from "../../app/fields.ts";
import { forbidden, notFound } from "../../app/problem.ts";
import type { AppBindings, AppRouteHandler } from "../../app/types.ts";
import type { Queryable } from "../../db/database.ts";
import type {
  AddExceptionRoute,
  GetAvailabilityRoute,
  ListRoute,
  RemoveExceptionRoute,
  ReplaceWeeklyHoursRoute,
  SlotsRoute,
} from "./doctors.routes.ts";

const DOCTOR_NOT_FOUND = "Médico no encontrado";

/** Only the doctor themself, or an admin, manages a doctor's hours. */
function requireSelfOrAdmin(c: Context<AppBindings>, doctorId: string) {
  const { sub, user_role } = c.var.caller;
  if (user_role !== "admin" && sub !== doctorId) throw forbidden();
}

async function requireDoctor(tx: Queryable, id: string) {
  const [row] = await tx.query("select 1 from app.doctor_directory() where id = $1 and is_active", [id]);
  if (!row) throw notFound(DOCTOR_NOT_FOUND);
}

interface ExceptionRow {
  id: string;
  kind: "unavailable" | "available";
  starts_at: Date | string;
  ends_at: Date | string;
  note: string | null;
}

const toException = (r: ExceptionRow) => ({
  id: r.id,
  kind: r.kind,
  startsAt: iso(r.starts_at),
  endsAt: iso(r.ends_at),
  note: r.note,
});

async function readAvailability(tx: Queryable, doctorId: string) {
  const [{ time_zone }] = await tx.query<{ time_zone: string }>("select app.clinic_time_zone() as time_zone");
  const hours = await tx.query<
    { weekday: number; start_time: string; end_time: string; slot_minutes: number }
  >(
    `select weekday, to_char(start_time, 'HH24:MI') as start_time, to_char(end_time, 'HH24:MI') as end_time,
            slot_minutes
       from public.doctor_weekly_hours where doctor_id = $1 order by weekday, start_time`,
    [doctorId],
  );
  const exceptions = await tx.query<ExceptionRow>(
    // A private note: the database answers it to the doctor and admins only (null to anyone else).
    `with page as materialized (
       select id, kind, starts_at, ends_at from public.doctor_availability_exceptions
        where doctor_id = $1 and ends_at > now() order by starts_at limit 200
     )
     select page.*, n.note from page
       left join app.availability_exception_notes(array(select id from page)) n on n.id = page.id
      order by page.starts_at, page.id`,
    [doctorId],
  );
  return {
    doctorId,
    timeZone: time_zone,
    weeklyHours: hours.map((h) => ({
      weekday: Number(h.weekday),
      startTime: h.start_time,
      endTime: h.end_time,
      slotMinutes: Number(h.slot_minutes),
    })),
    exceptions: exceptions.map(toException),
  };
}

export const list: AppRouteHandler<ListRoute> = async (c) => {
  const { limit, cursor, specialtyId } = c.req.valid("query");
  const after = decodeCursor(cursor);
  const rows = await c.var.db.query<{
    id: string;
    name: string;
    last_name: string;
    specialty_id: string;
    specialty: string;
    cursor_created_at: string;
  }>(
    `select d.id, d.name, d.last_name, d.specialty_id, d.specialty, d.created_at::text as cursor_created_at
       from app.doctor_directory() d
      where d.is_active
        and ($1::uuid is null or d.specialty_id = $1)
        and ($2::text is null or (d.created_at, d.id) > ($2::text::timestamptz, $3::uuid))
      order by d.created_at, d.id
      limit $4`,
    [specialtyId ?? null, after?.createdAt ?? null, after?.id ?? null, limit + 1],
  );
  const { page, nextCursor } = paginate(rows, limit, (r) => ({
    id: r.id,
    name: r.name,
    lastName: r.last_name,
    specialtyId: r.specialty_id,
    specialty: r.specialty,
  }));
  return c.json(pagedEnvelope(page, nextCursor), 200);
};

export const getAvailability: AppRouteHandler<GetAvailabilityRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const availability = await c.var.db.transaction(async (tx) => {
    await requireDoctor(tx, id);
    return await readAvailability(tx, id);
  });
  return c.json(envelope(availability), 200);
};

export const replaceWeeklyHours: AppRouteHandler<ReplaceWeeklyHoursRoute> = async (c) => {
  const { id } = c.req.valid("param");
  requireSelfOrAdmin(c, id);
  const { weeklyHours } = c.req.valid("json");
  const availability = await c.var.db.transaction(async (tx) => {
    await requireDoctor(tx, id);
    // A separate statement, so that the delete's snapshot sees the previous replacement's rows.
    await tx.query("select app.lock_doctor_schedule($1)", [id]);
    await tx.query("delete from public.doctor_weekly_hours where doctor_id = $1", [id]);
    if (weeklyHours.length) {
      await tx.query(
        `insert into public.doctor_weekly_hours (doctor_id, weekday, start_time, end_time, slot_minutes)
         select $1, h.weekday, h.start_time::time, h.end_time::time, h.slot_minutes
           from jsonb_to_recordset($2::text::jsonb)
                  as h(weekday smallint, start_time text, end_time text, slot_minutes integer)`,
        [
          id,
          JSON.stringify(weeklyHours.map((h) => ({
            weekday: h.weekday,
            start_time: h.startTime,
            end_time: h.endTime,
            slot_minutes: h.slotMinutes,
          }))),
        ],
      );
    }
    return await readAvailability(tx, id);
  });
  return c.json(envelope(availability, "Horario semanal actualizado"), 200);
};

export const addException: AppRouteHandler<AddExceptionRoute> = async (c) => {
  const { id } = c.req.valid("param");
  requireSelfOrAdmin(c, id);
  const body = c.req.valid("json");
  const exception = await c.var.db.transaction(async (tx) => {
    await requireDoctor(tx, id);
    const [row] = await tx.query<ExceptionRow>(
      `insert into public.doctor_availability_exceptions (doctor_id, kind, starts_at, ends_at, note)
       values ($1, $2::text::public.availability_exception_kind, $3::text::timestamptz, $4::text::timestamptz, $5)
       returning id, kind, starts_at, ends_at`,
      [id, body.kind, body.startsAt, body.endsAt, body.note ?? null],
    );
    // Its author is the doctor or an admin, who read the note: echoed, not read back.
    return toException({ ...row, note: body.note ?? null });
  });
  return c.json(envelope(exception, "Excepción agregada"), 201);
};

export const removeException: AppRouteHandler<RemoveExceptionRoute> = async (c) => {
  const { id, exceptionId } = c.req.valid("param");
  requireSelfOrAdmin(c, id);
  const rows = await c.var.db.query(
    "delete from public.doctor_availability_exceptions where id = $1 and doctor_id = $2 returning id",
    [exceptionId, id],
  );
  if (!rows.length) throw notFound("Excepción no encontrada");
  return c.body(null, 204);
};

export const slots: AppRouteHandler<SlotsRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const { from, to } = c.req.valid("query");
  const rows = await c.var.db.transaction(async (tx) => {
    await requireDoctor(tx, id);
    return await tx.query<{ starts_at: Date | string; ends_at: Date | string }>(
      "select starts_at, ends_at from app.doctor_free_slots($1, $2::text::timestamptz, $3::text::timestamptz)",
      [id, from, to],
    );
  });
  return c.json(
    envelope(rows.map((r) => {
      const [start, end] = [iso(r.starts_at), iso(r.ends_at)];
      return { startAppointment: start, endAppointment: end, startsAt: start, endsAt: end };
    })),
    200,
  );
};
