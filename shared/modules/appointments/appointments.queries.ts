/** SQL of the appointments module. Runs as the caller: RLS decides what is visible. */
import { iso } from "../../app/fields.ts";

export const APPOINTMENT_COLUMNS = `
  a.id, a.patient_id, a.doctor_id, a.specialty_id, a.reason, a.starts_at, a.ends_at, a.status,
  a.created_at, a.updated_at, a.starts_at::text as cursor_created_at,
  pu.name as patient_name, pu.last_name as patient_last_name,
  du.name as doctor_name, du.last_name as doctor_last_name, du.specialty as doctor_specialty`;

export const APPOINTMENT_FROM = `
  from public.appointments a
  left join public.users pu on pu.id = a.patient_id
  left join app.doctor_directory() du on du.id = a.doctor_id`;

export interface AppointmentRow {
  id: string;
  patient_id: string;
  doctor_id: string;
  specialty_id: string;
  reason: string;
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

/** Keyset page over (starts_at, id) with optional filters; $1..$7 as built here. */
export function listSql(extraWhere = "") {
  return `select ${APPOINTMENT_COLUMNS} ${APPOINTMENT_FROM}
    where ($1::text is null or (a.starts_at, a.id) > ($1::text::timestamptz, $2::uuid))
      and ($3::text is null or a.starts_at >= $3::text::timestamptz)
      and ($4::text is null or a.starts_at < $4::text::timestamptz)
      and ($5::text is null or a.status = $5::text::public.appointment_status)
      and ($6::uuid is null or a.doctor_id = $6)
      and ($7::uuid is null or a.patient_id = $7)
      ${extraWhere}
    order by a.starts_at, a.id
    limit $8`;
}
