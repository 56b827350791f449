/**
 * An appointments table of a given size, loaded as the owner: DOCTORS
 * doctors (the bench's signed-in doctor among them) and PATIENTS patients,
 * and rows numbered 0, 1, 2, …: row i is doctor i % DOCTORS's slot number
 * ⌊i / DOCTORS⌋, SLOT_MINUTES long, from a start one day ahead. Every doctor
 * thus has the same share, at the same times as the others, and no overlap.
 */
import { createPostgresDatabase } from "../../shared/db/postgres.ts";

export const DOCTORS = 200;
export const PATIENTS = 20_000;
export const SLOT_MINUTES = 30;

export interface AppointmentTable {
  rows: number;
  /** Milliseconds to insert the appointments and vacuum analyze the table. */
  loadMs: number;
  /** The start of the measured doctor's middle appointment (ISO). */
  middleStart: string;
}

/** The other doctors and the patients (users and patient records). */
const ADD_DOCTORS = `
  insert into public.users (role, name, last_name, phone, email, specialty_id)
  select 'doctor', 'Médico ' || i, 'Carga', '+5493' || lpad(i::text, 8, '0'),
         'load.doctor.' || i || '@bench.consultorio.dev',
         (select id from public.specialties order by id limit 1)
    from generate_series(1, $1::int) as i`;

const ADD_PATIENTS = `
  with u as (
    insert into public.users (role, name, last_name, phone, email)
    select 'patient', 'Paciente ' || i, 'Carga', '+5494' || lpad(i::text, 8, '0'),
           'load.patient.' || i || '@bench.consultorio.dev'
      from generate_series(1, $1::int) as i
    returning id
  )
  insert into public.patients (id, address) select id, 'Calle de la carga 123' from u`;

/**
 * Rows [0, $3): mostly PENDING and CONFIRMED, one in twenty CANCELLED. Doctor
 * k sees the patients numbered k modulo DOCTORS: PATIENTS / DOCTORS of them.
 */
const ADD_APPOINTMENTS = `
  with d as (
    select array_agg(id order by id) as ids from public.users
     where role = 'doctor' and (email like 'load.doctor.%' or id = $1)
  ),
  p as (select array_agg(id order by id) as ids from public.patients),
  s as (select id from public.specialties order by id limit 1)
  insert into public.appointments
    (patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, status, created_by)
  select p.ids[1 + i % cardinality(p.ids)], d.ids[1 + i % cardinality(d.ids)], s.id, 'Consulta de control',
         $2::text::timestamptz + (i / cardinality(d.ids)) * make_interval(mins => $4),
         $2::text::timestamptz + (i / cardinality(d.ids) + 1) * make_interval(mins => $4),
         (case when i % 20 = 0 then 'CANCELLED' when i % 3 = 0 then 'CONFIRMED' else 'PENDING' end)
           ::public.appointment_status,
         p.ids[1 + i % cardinality(p.ids)]
    from d, p, s, generate_series(0, $3::int - 1) as i`;

const ROW_TRIGGERS = ["appointments_check", "appointments_0_serialize_doctor_schedule"];
const DISABLE_ROW_TRIGGERS = `alter table public.appointments ${
  ROW_TRIGGERS.map((name) => `disable trigger ${name}`).join(", ")
}`;
const ENABLE_ROW_TRIGGERS = DISABLE_ROW_TRIGGERS.replaceAll("disable", "enable");

export async function loadAppointments(
  url: string,
  doctorId: string,
  rows: number,
): Promise<AppointmentTable> {
  const db = createPostgresDatabase({ url, poolSize: 1 });
  try {
    await db.queryAsOwner(ADD_DOCTORS, [DOCTORS - 1]);
    await db.queryAsOwner(ADD_PATIENTS, [PATIENTS]);
    const [{ first }] = await db.queryAsOwner<{ first: string }>(
      `select to_char(date_trunc('hour', now()) at time zone 'UTC' + interval '1 day',
                      'YYYY-MM-DD"T"HH24:MI:SS"Z"') as first`,
    );

    const started = performance.now();
    // The rules' trigger refuses a start in the past and checks availability
    // row by row, and the schedule's lock is taken row by row: both off for
    // the bulk load; constraints, indexes and foreign keys stay on.
    await db.execScript(DISABLE_ROW_TRIGGERS);
    try {
      await db.queryAsOwner(ADD_APPOINTMENTS, [doctorId, first, rows, SLOT_MINUTES]);
    } finally {
      await db.execScript(ENABLE_ROW_TRIGGERS);
    }
    // Vacuum too, so that autovacuum does not wake up during the measurements.
    await db.execScript("vacuum (analyze) public.appointments");
    const loadMs = performance.now() - started;

    const middleSlot = Math.floor(rows / DOCTORS / 2);
    const middleStart = new Date(Date.parse(first) + middleSlot * SLOT_MINUTES * 60_000).toISOString();
    return { rows, loadMs, middleStart };
  } finally {
    await db.close();
  }
}
