/** SQL of the users module. Runs as the caller: RLS decides what is visible. */
import { iso } from "../../app/fields.ts";

export const USER_COLUMNS = `
  u.id, u.role, u.name, u.last_name, u.phone, u.email, u.specialty_id,
  s.name as specialty_name, u.is_active, u.created_at, u.updated_at`;

export const USER_FROM = `from public.users u left join public.specialties s on s.id = u.specialty_id`;

export interface UserRow {
  id: string;
  role: "admin" | "doctor" | "patient";
  name: string;
  last_name: string;
  phone: string;
  email: string;
  specialty_id: string | null;
  specialty_name: string | null;
  is_active: boolean;
  created_at: Date | string;
  updated_at: Date | string;
}

export function toUser(row: UserRow) {
  return {
    id: row.id,
    role: row.role,
    name: row.name,
    lastName: row.last_name,
    phone: row.phone,
    email: row.email,
    specialtyId: row.specialty_id,
    specialty: row.specialty_id ? { id: row.specialty_id, name: row.specialty_name ?? "" } : null,
    isActive: row.is_active,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** Columns a PATCH may set, by their API name. */
export const UPDATABLE_COLUMNS = {
  role: "role",
  name: "name",
  lastName: "last_name",
  phone: "phone",
  email: "email",
  specialtyId: "specialty_id",
  isActive: "is_active",
} as const;
