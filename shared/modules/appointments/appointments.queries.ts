/** SQL of the appointments module. Runs as the caller: RLS decides what is visible. */
import { iso } from "../../app/fields.ts";

export const APPOINTMENT_COLUMNS = `
  a.id, a.patient_id, a.doctor_id, a.specialty_id, a.starts_at, a.ends_at, a.status,
  a.created_at, a.updated_at, a.starts_at::text as cursor_created_at,
  pu.name as patient_name, pu.last_name as patient_last_name,
  du.name as doctor_name, du.last_name as doctor_last_name, du.specialty as doctor_specialty`;

export const APPOINTMENT_FROM = `
  from public.appointments a
  left join public.users pu on pu.id = a.patient_id
  left join app.doctor_directory() du on du.id = a.doctor_id`;

/**
 * Adds each row's reason: clinical text, which the database answers to the
 * appointment's patient and doctor only (null to an admin), in one call for
 * the whole page rather than one per row.
 */
export function withReasons(pageSql: string): string {
  return `with page as materialized (${pageSql})
    select page.*, r.reason from page
      left join app.appointment_reasons(array(select id from page)) r on r.id = page.id
     order by page.starts_at, page.id`;
}

export interface AppointmentRow {
  id: string;
  patient_id: string;
  doctor_id: string;
  specialty_id: string;
  reason: string | null;
  starts_at: Date | string;
  ends_at: Date | string;
  status: "PENDING" | "CONFIRMED" | "CANCELLED" | "COMPLETED";
  created_at: Date | string;
  updated_at: Date | string;
  cursor_created_at: string;
  patient_name: string | null;
  patient_last_name: string | null;
  doctor_name: string | null;
  doctor_last_name: string | null;
  doctor_specialty: string | null;
}

export function toAppointment(row: AppointmentRow) {
  return {
    id: row.id,
    patientId: row.patient_id,
    doctorId: row.doctor_id,
    specialtyId: row.specialty_id,
    reason: row.reason,
    startAppointment: iso(row.starts_at),
    endAppointment: iso(row.ends_at),
    status: row.status,
    patient: { id: row.patient_id, name: row.patient_name ?? "", lastName: row.patient_last_name ?? "" },
    doctor: {
      id: row.doctor_id,
      name: row.doctor_name ?? "",
      lastName: row.doctor_last_name ?? "",
      specialty: row.doctor_specialty ?? "",
    },
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export interface AppointmentFilters {
  after?: { createdAt: string; id: string };
  from?: string;
  to?: string;
  status?: string;
  doctorId?: string;
  patientId?: string;
}

/**
 * A keyset page over (starts_at, id) with only the filters given, so that
 * every statement has a plan that uses the doctor's or the patient's index
 * (an `$n is null or ...` filter defeats it once PostgreSQL caches a generic
 * plan).
 */
export function listQuery(filters: AppointmentFilters, limit: number): { sql: string; params: unknown[] } {
  const { where, params, param } = listWhere(filters);
  const sql = withReasons(`select ${APPOINTMENT_COLUMNS} ${APPOINTMENT_FROM}
    ${where}
    order by a.starts_at, a.id
    limit ${param(limit + 1)}`);
  return { sql, params };
}

/** How many appointments the list has in all: the same filters and RLS, without the cursor. */
export function countQuery(filters: AppointmentFilters): { sql: string; params: unknown[] } {
  const { where, params } = listWhere({ ...filters, after: undefined });
  return { sql: `select count(*)::int as total from public.appointments a ${where}`, params };
}

function listWhere(filters: AppointmentFilters) {
  const params: unknown[] = [];
  const where: string[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (filters.doctorId) where.push(`a.doctor_id = ${param(filters.doctorId)}::uuid`);
  if (filters.patientId) where.push(`a.patient_id = ${param(filters.patientId)}::uuid`);
  if (filters.status) where.push(`a.status = ${param(filters.status)}::text::public.appointment_status`);
  if (filters.from) where.push(`a.starts_at >= ${param(filters.from)}::text::timestamptz`);
  if (filters.to) where.push(`a.starts_at < ${param(filters.to)}::text::timestamptz`);
  if (filters.after) {
    where.push(
      `(a.starts_at, a.id) > (${param(filters.after.createdAt)}::text::timestamptz, ${
        param(filters.after.id)
      }::uuid)`,
    );
  }
  return { where: where.length ? `where ${where.join(" and ")}` : "", params, param };
}

/**
 * The doctor's specialty and the end of their free slot that starts at $2
 * (null if none does), through the same directory and slot function as
 * GET /v1/doctors/{id}/slots; no row if there is no such doctor.
 */
export const DOCTOR_SLOT_AT = `
  select d.specialty_id, s.ends_at
    from app.doctor_directory() d
    left join lateral (
      select f.ends_at
        from app.doctor_free_slots(d.id, $2::text::timestamptz, $2::text::timestamptz + interval '1 day') f
       where f.starts_at = $2::text::timestamptz
       limit 1
    ) s on true
   where d.id = $1 and d.is_active`;

export const INSERT_APPOINTMENT = `
  insert into public.appointments
    (patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, created_by)
  values ($1, $2, $3, $4, $5::text::timestamptz, $6::text::timestamptz, auth.uid())
  returning id`;
