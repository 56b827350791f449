/** SQL of the patients module. Runs as the caller: RLS decides who is visible. */
import { iso } from "../../app/fields.ts";

export const PATIENT_SELECT = `
  select u.id, u.email, u.name, u.last_name, u.phone, p.address, p.gender, p.birth_date::text as birth_date,
         u.created_at, greatest(u.updated_at, p.updated_at) as updated_at,
         u.created_at::text as cursor_created_at
    from public.patients p
    join public.users u on u.id = p.id
   where u.deleted_at is null`;

const PATIENT_SEARCH =
  "($3::text is null or u.name ilike $3 or u.last_name ilike $3 or u.phone ilike $3 or u.email ilike $3)";

/** A keyset page of the patients in `scope` (the caller's role's filter, said again for the planner). */
export function listPatientsSql(scope: string): string {
  return `${PATIENT_SELECT} ${scope}
     and ($1::text is null or (u.created_at, u.id) > ($1::text::timestamptz, $2::uuid))
     and ${PATIENT_SEARCH}
   order by u.created_at, u.id
   limit $4`;
}

/** How many patients the same list has in all (the search is $1 here). */
export function countPatientsSql(scope: string): string {
  return `select count(*)::int as total
    from public.patients p join public.users u on u.id = p.id
   where u.deleted_at is null ${scope} and ${PATIENT_SEARCH.replaceAll("$3", "$1")}`;
}

export interface PatientRow {
  id: string;
  email: string;
  name: string;
  last_name: string;
  phone: string;
  address: string;
  gender: "male" | "female" | null;
  birth_date: string | null;
  created_at: Date | string;
  updated_at: Date | string;
  cursor_created_at: string;
}

export function toPatient(row: PatientRow) {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    lastName: row.last_name,
    phone: row.phone,
    address: row.address,
    ...(row.gender ? { gender: row.gender } : {}),
    ...(row.birth_date ? { birthDate: `${row.birth_date}T00:00:00.000Z` } : {}),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export interface AntecedentsRow {
  patient_id: string;
  allergies: string[];
  medications: string[];
  medical_history: string[];
  family_history: string[];
  updated_at: Date | string;
}

export function toAntecedents(row: AntecedentsRow) {
  return {
    patientId: row.patient_id,
    allergies: row.allergies,
    medications: row.medications,
    medicalHistory: row.medical_history,
    familyHistory: row.family_history,
    updatedAt: iso(row.updated_at),
  };
}
