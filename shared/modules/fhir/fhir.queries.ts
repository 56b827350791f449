/**
 * SQL of the FHIR module. Every statement runs as the caller: row-level
 * security decides which of the patient's rows the export holds, exactly as
 * it does for the REST reads (a doctor sees their own appointments and
 * consultations of the patient, every clinic history of a patient in their
 * care; a patient all of their own).
 */
import type { Queryable } from "../../db/database.ts";
import type { PatientRecord, PractitionerRow } from "./fhir.mappers.ts";

/**
 * A patient's whole record in one statement (one round trip), as JSON:
 * each part is a set-based read aggregated with jsonb_agg, whatever the
 * number of consultations. The same statement audits the reads (patient,
 * antecedents, every clinic history) as the REST reads do, so an export
 * that returns anything is in the audit log, and one that returns nothing
 * writes nothing.
 */
const RECORD_SQL = `
  with p as (
    select u.id, u.name, u.last_name, u.phone, u.email, u.is_active and u.deleted_at is null as is_active,
           pt.address, pt.gender, pt.birth_date::text as birth_date,
           app.iso(greatest(u.updated_at, pt.updated_at)) as updated_at
      from public.patients pt
      join public.users u on u.id = pt.id
     where pt.id = $1 and u.deleted_at is null
  ),
  appts as (
    select a.id, a.doctor_id, a.specialty_id, s.name as specialty, app.appointment_reason(a.id) as reason, a.status,
           app.iso(a.starts_at) as starts_at, app.iso(a.ends_at) as ends_at, app.iso(a.created_at) as created_at
      from public.appointments a
      join public.specialties s on s.id = a.specialty_id
     where a.patient_id in (select id from p)
  ),
  cons as (
    select c.id, c.appointment_id, c.doctor_id, c.status, app.iso(c.created_at) as created_at,
           app.iso(c.checked_in_at) as checked_in_at, app.iso(c.started_at) as started_at,
           app.iso(c.closed_at) as closed_at
      from public.consultations c
     where c.patient_id in (select id from p)
  ),
  hist as (
    select h.id, h.appointment_id, h.doctor_id, app.iso(h.created_at) as created_at, h.consultation_reason,
           (select c.id from cons c where c.appointment_id = h.appointment_id) as encounter_id,
           coalesce((
             select jsonb_agg(jsonb_build_object('id', d.id, 'name', d.name, 'description', d.description,
                      'created_at', app.iso(d.created_at)) order by d.position)
               from public.clinic_history_diagnostics d where d.clinic_history_id = h.id), '[]') as diagnostics,
           coalesce((
             select jsonb_agg(jsonb_build_object('id', v.id, 'name', v.name, 'value', v.value, 'unit', v.unit,
                      'measurement', v.measurement, 'description', v.description,
                      'effective_at', app.iso(v.created_at)) order by v.position)
               from public.clinic_history_vital_signs v where v.clinic_history_id = h.id), '[]') as vitals,
           (select jsonb_build_object('id', pr.id, 'name', pr.name, 'description', pr.description,
                     'medications', coalesce((
                       select jsonb_agg(to_jsonb(m) - 'prescription_id' - 'position' - 'created_at'
                                - 'updated_at' order by m.position)
                         from public.prescription_medications m where m.prescription_id = pr.id), '[]'))
              from public.prescriptions pr where pr.clinic_history_id = h.id) as prescription
      from public.clinic_histories h
     where h.patient_id in (select id from p)
  ),
  docs as (
    select d.id, d.name, d.last_name, d.specialty_id, d.specialty, d.is_active
      from app.doctor_directory() d
     where d.id in (select doctor_id from appts union select doctor_id from cons
                    union select doctor_id from hist)
  ),
  ante as (
    select a.allergies, a.medications, a.medical_history, a.family_history, app.iso(a.updated_at) as updated_at
      from public.patient_antecedents a
     where a.patient_id in (select id from p)
  ),
  files as (
    select f.id, f.consultation_id, f.uploaded_by, f.filename, f.mime_type, f.size_bytes,
           app.iso(f.created_at) as created_at
      from public.consultation_files f
     where f.consultation_id in (select id from cons) and f.status = 'uploaded'
  )
  select
    (select to_jsonb(p) from p) as patient,
    coalesce((select jsonb_agg(jsonb_build_object('resource_type', i.resource_type, 'system', i.system,
                'value', i.value) order by i.created_at, i.id)
                from public.fhir_source_identifiers i
               where i.patient_id in (select id from p) and i.resource_type = 'Patient'), '[]') as identifiers,
    coalesce((select jsonb_agg(to_jsonb(d) order by d.last_name, d.name, d.id) from docs d), '[]') as practitioners,
    coalesce((select jsonb_agg(to_jsonb(a) order by a.starts_at, a.id) from appts a), '[]') as appointments,
    coalesce((select jsonb_agg(to_jsonb(c) order by c.created_at, c.id) from cons c), '[]') as consultations,
    coalesce((select jsonb_agg(to_jsonb(h) order by h.created_at, h.id) from hist h), '[]') as histories,
    (select to_jsonb(a) from ante a) as antecedents,
    coalesce((select jsonb_agg(jsonb_build_object('id', v.id, 'name', v.name, 'value', v.value, 'unit', v.unit,
                'loinc_code', v.loinc_code, 'measurement', null, 'description', null,
                'effective_at', app.iso(v.effective_at)) order by v.effective_at, v.id)
                from public.imported_vital_signs v where v.patient_id in (select id from p)), '[]')
      as imported_vitals,
    coalesce((select jsonb_agg(to_jsonb(f) order by f.created_at, f.id) from files f), '[]') as files,
    coalesce((select jsonb_agg(jsonb_build_object('consultation_id', r.consultation_id, 'user_id', r.user_id,
                'granted', r.granted, 'updated_at', app.iso(r.updated_at)) order by r.consultation_id, r.user_id)
                from public.recording_consents r
               where r.consultation_id in (select id from cons)), '[]') as consents,
    app.audit('read', 'patient', array(select id from p)) is null as audited_patient,
    app.audit('read', 'antecedents', array(select id from p where exists (select 1 from ante))) is null as audited_antecedents,
    app.audit('read', 'clinic_history', array(select id from hist)) is null as audited_histories`;

// deno-lint-ignore no-explicit-any
type Json = any;
const parsed = (value: Json) => typeof value === "string" ? JSON.parse(value) : value;

/** The caller's view of the patient's record, or undefined when the patient is not visible. */
export async function readPatientRecord(
  tx: Queryable,
  patientId: string,
): Promise<PatientRecord | undefined> {
  const [row] = await tx.query<Record<string, Json>>(RECORD_SQL, [patientId]);
  const patient = parsed(row?.patient);
  if (!patient) return undefined;
  return {
    patient,
    identifiers: parsed(row.identifiers),
    practitioners: parsed(row.practitioners),
    appointments: parsed(row.appointments),
    consultations: parsed(row.consultations),
    histories: parsed(row.histories),
    antecedents: parsed(row.antecedents) ?? null,
    importedVitals: parsed(row.imported_vitals),
    files: parsed(row.files),
    consents: parsed(row.consents),
  };
}

/** Which patient a resource of `type` with our id `id` belongs to, as the caller sees it. */
const OWNER_SQL: Record<string, string> = {
  Patient: "select p.id as patient_id from public.patients p where p.id = $1",
  Appointment: "select a.patient_id from public.appointments a where a.id = $1",
  Encounter: "select c.patient_id from public.consultations c where c.id = $1",
  Condition: `select h.patient_id from public.clinic_history_diagnostics d
                join public.clinic_histories h on h.id = d.clinic_history_id where d.id = $1`,
  Observation: `select h.patient_id from public.clinic_history_vital_signs v
                  join public.clinic_histories h on h.id = v.clinic_history_id where v.id = $1
                union all
                select v.patient_id from public.imported_vital_signs v where v.id = $1`,
  MedicationRequest: `select h.patient_id from public.prescription_medications m
                        join public.prescriptions pr on pr.id = m.prescription_id
                        join public.clinic_histories h on h.id = pr.clinic_history_id where m.id = $1`,
  DocumentReference: `select c.patient_id from public.consultation_files f
                        join public.consultations c on c.id = f.consultation_id where f.id = $1`,
  Consent: "select c.patient_id from public.consultations c where c.id = $1",
};

export async function ownerOf(tx: Queryable, type: string, id: string): Promise<string | undefined> {
  const sql = OWNER_SQL[type];
  if (!sql) return undefined;
  const [row] = await tx.query<{ patient_id: string }>(sql, [id]);
  return row?.patient_id;
}

/** A practitioner the caller may know of (every signed-in user may list doctors). */
export async function readPractitioner(tx: Queryable, id: string): Promise<PractitionerRow | undefined> {
  const [row] = await tx.query<PractitionerRow>(
    `select d.id, d.name, d.last_name, d.specialty_id, d.specialty, d.is_active
       from app.doctor_directory() d where d.id = $1`,
    [id],
  );
  return row;
}

// ---------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------

export async function findImported(tx: Queryable, type: string, system: string, value: string) {
  const [row] = await tx.query<{ patient_id: string }>(
    `select patient_id from public.fhir_source_identifiers
      where resource_type = $1 and system = $2 and value = $3`,
    [type, system, value],
  );
  return row?.patient_id;
}

export async function rememberImported(
  tx: Queryable,
  patientId: string,
  type: string,
  system: string,
  value: string,
) {
  await tx.query(
    `insert into public.fhir_source_identifiers (patient_id, resource_type, system, value, created_by)
     values ($1, $2, $3, $4, auth.uid())`,
    [patientId, type, system, value],
  );
}

export async function registerPatient(
  tx: Queryable,
  p: {
    name: string;
    lastName: string;
    phone: string;
    email: string;
    address: string;
    gender: string | null;
    birthDate: string | null;
  },
): Promise<string> {
  const [{ id }] = await tx.query<{ id: string }>(
    "select app.register_patient($1, $2, $3, $4, $5, $6::public.gender, $7::text::date, null) as id",
    [p.name, p.lastName, p.phone, p.email, p.address, p.gender, p.birthDate],
  );
  return id;
}

/** Adds entries to the patient's medical history (kept once each), as the caller. */
export async function addMedicalHistory(
  tx: Queryable,
  patientId: string,
  entries: string[],
): Promise<string[]> {
  const [row] = await tx.query<{ medical_history: string[] }>(
    `insert into public.patient_antecedents (patient_id, medical_history, updated_by, updated_at)
     values ($1, $2::text[], auth.uid(), now())
     on conflict (patient_id) do update set
       medical_history = patient_antecedents.medical_history || array(
         select e from unnest(excluded.medical_history) e where e <> all(patient_antecedents.medical_history)),
       updated_by = excluded.updated_by, updated_at = excluded.updated_at
     returning medical_history`,
    [patientId, entries],
  );
  return row.medical_history;
}

export async function addImportedVital(
  tx: Queryable,
  patientId: string,
  v: { name: string; loincCode: string | null; value: string; unit: string; effectiveAt: string },
): Promise<string> {
  const [row] = await tx.query<{ id: string }>(
    `insert into public.imported_vital_signs (patient_id, name, loinc_code, value, unit, effective_at, recorded_by)
     values ($1, $2, $3, $4, $5, $6::text::timestamptz, auth.uid())
     returning id`,
    [patientId, v.name, v.loincCode, v.value, v.unit, v.effectiveAt],
  );
  return row.id;
}
