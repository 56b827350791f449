/**
 * Maps an error raised by PostgreSQL to the contract's codes. Never copies
 * the server's message or detail into the answer: they can hold SQL or
 * another user's data (a unique violation's detail names the value).
 */
import { isDatabaseUnavailable } from "../db/database.ts";
import { ApiError, type FieldError, isErrorCode } from "./problem.ts";

interface PgErrorLike {
  code: string;
  constraint?: string;
  constraint_name?: string;
  message?: string;
  detail?: string;
}

export function isPgError(error: unknown): error is PgErrorLike {
  return typeof error === "object" && error !== null &&
    typeof (error as { code?: unknown }).code === "string" &&
    /^[0-9A-Z]{5}$/.test((error as { code: string }).code);
}

/** Constraints whose field is not the one their name suggests. */
const CONSTRAINT_FIELDS: Record<string, string> = {
  users_doctor_specialty: "specialtyId",
  specialties_name_key: "name",
  appointments_ends_after_start: "endAppointment",
  appointments_at_most_12_hours: "endAppointment",
  appointments_patient_id_fkey: "patientId",
  appointments_doctor_id_fkey: "doctorId",
  appointments_specialty_id_fkey: "specialtyId",
  clinic_histories_appointment_id_key: "appointmentId",
  doctor_weekly_hours_no_overlap: "weeklyHours",
  doctor_weekly_hours_ends_after_start: "weeklyHours",
  prescription_medications_quantity_check: "prescription.medications",
  consultation_files_filename_control_check: "filename",
  chat_files_filename_control_check: "filename",
};

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** `users_phone_key` → `phone`; `appointments_doctor_id_fkey` → `doctorId`. */
export function fieldOfConstraint(constraint: string | undefined, table?: string): string | undefined {
  if (!constraint) return undefined;
  if (CONSTRAINT_FIELDS[constraint]) return CONSTRAINT_FIELDS[constraint];
  let name = constraint.replace(/_(key|fkey|check|excl|idx)$/, "");
  if (table && name.startsWith(`${table}_`)) name = name.slice(table.length + 1);
  else name = name.replace(/^[a-z]+_/, "");
  return name ? camel(name) : undefined;
}

export function pgErrorToApiError(error: unknown): ApiError | undefined {
  if (!isPgError(error)) return undefined;
  const constraint = error.constraint_name ?? error.constraint;
  const table = (error as { table_name?: string; table?: string }).table_name ??
    (error as { table?: string }).table;
  const field = fieldOfConstraint(constraint, table);
  const fieldErrors = (message: string): FieldError[] | undefined => field ? [{ field, message }] : undefined;

  switch (error.code) {
    case "P0001": {
      // Raised by our own SQL:
      //   raise exception using message = 'APP_002', detail = '<for the client>', hint = '<field>';
      if (!isErrorCode(error.message)) return undefined;
      const detail = error.detail ?? "La operación no está permitida";
      const hint = (error as { hint?: string }).hint;
      // A rate limit counted in SQL: its hint is the seconds until it lets one more in.
      if (error.message === "RATE_001" && hint && /^\d+$/.test(hint)) {
        return new ApiError("RATE_001", detail, { headers: { "Retry-After": hint }, cause: error });
      }
      return new ApiError(error.message, detail, {
        errors: hint ? [{ field: hint, message: detail }] : undefined,
        cause: error,
      });
    }
    case "23505":
      return new ApiError("RES_002", "Ya existe un registro con estos datos", {
        errors: fieldErrors("ya está en uso"),
        cause: error,
      });
    case "23P01":
      return new ApiError("APP_001", "El horario seleccionado no está disponible", { cause: error });
    case "23503":
      return new ApiError("RES_001", "Un recurso referenciado no existe", {
        errors: fieldErrors("no existe"),
        cause: error,
      });
    case "23502":
    case "23514":
    case "22001":
    case "22003":
    case "22007":
    case "22008":
    case "22P02":
      return new ApiError("VAL_001", "Los datos enviados no son válidos", {
        errors: fieldErrors("valor no válido"),
        cause: error,
      });
    case "42501":
      // Row-level security refused a write (for example an insert's WITH CHECK).
      return new ApiError("AUTH_002", "No tienes permisos para realizar esta acción", { cause: error });
    case "40001":
    case "40P01":
    case "55P03":
      return new ApiError("SRV_002", "Conflicto temporal, vuelve a intentarlo", {
        headers: { "Retry-After": "1" },
        cause: error,
      });
    default:
      return undefined;
  }
}

/** Seconds a client waits before retrying while the database is unreachable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

export { isDatabaseUnavailable };

export function databaseUnavailable(cause: unknown): ApiError {
  return new ApiError("SRV_003", "La base de datos no está disponible, vuelve a intentarlo", {
    headers: { "Retry-After": String(DATABASE_RETRY_AFTER_SECONDS) },
    cause,
  });
}
