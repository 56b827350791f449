/**
 * SQL of the consultations module. Runs as the caller: RLS shows the whole
 * consultation to its doctor and patient only; an admin reads the
 * operational state through app.consultation_state(s)(), which has no room.
 */
import { iso } from "../../app/fields.ts";
import { notFound } from "../../app/problem.ts";
import type { Queryable } from "../../db/database.ts";

export const BUCKET = "consultation-files";
export const CONSULTATION_NOT_FOUND = "Consulta no encontrada";

export interface ConsultationRow {
  id: string;
  appointment_id: string;
  doctor_id: string;
  patient_id: string;
  status: "waiting" | "in_progress" | "closed";
  checked_in_at: Date | string | null;
  queue_position: number | null;
  video_provider: "livekit" | null;
  room_name?: string | null;
  created_at: Date | string;
  started_at: Date | string | null;
  closed_at: Date | string | null;
  cursor_created_at: string;
}

const MEMBER_COLUMNS = `
  c.id, c.appointment_id, c.doctor_id, c.patient_id, c.status, c.checked_in_at,
  app.consultation_queue_position(c.id) as queue_position, c.video_provider, c.room_name,
  c.created_at, c.started_at, c.closed_at, c.created_at::text as cursor_created_at`;

const isoOrNull = (value: Date | string | null | undefined) => value == null ? null : iso(value);

export function toConsultation(row: ConsultationRow) {
  return {
    id: row.id,
    appointmentId: row.appointment_id,
    doctorId: row.doctor_id,
    patientId: row.patient_id,
    status: row.status,
    queueItem: row.queue_position != null && row.checked_in_at != null
      ? { position: Number(row.queue_position), checkedInAt: iso(row.checked_in_at) }
      : null,
    videoProvider: row.video_provider,
    // Only in a member's row: the admin's state has no room_name column at all.
    ...("room_name" in row ? { roomName: row.room_name ?? null } : {}),
    checkedInAt: isoOrNull(row.checked_in_at),
    createdAt: iso(row.created_at),
    startedAt: isoOrNull(row.started_at),
    closedAt: isoOrNull(row.closed_at),
  };
}

/** The consultation as the caller may see it (full for its members, the state for an admin), or 404. */
export async function readConsultation(tx: Queryable, id: string, admin: boolean) {
  const [row] = admin
    ? await tx.query<ConsultationRow>("select * from app.consultation_state($1)", [id])
    : await tx.query<ConsultationRow>(
      `select ${MEMBER_COLUMNS} from public.consultations c where c.id = $1`,
      [
        id,
      ],
    );
  if (!row) throw notFound(CONSULTATION_NOT_FOUND);
  return row;
}

/** A keyset page over (created_at, id) of the consultations the caller takes part in. */
export function memberPageQuery(callerColumn: "doctor_id" | "patient_id") {
  return `select ${MEMBER_COLUMNS}
    from public.consultations c
   where c.${callerColumn} = auth.uid()
     and ($1::text is null or (c.created_at, c.id) > ($1::text::timestamptz, $2::uuid))
   order by c.created_at, c.id
   limit $3`;
}

export const ADMIN_PAGE_QUERY =
  "select * from app.consultation_states($1::text::timestamptz, $2::uuid, $3::integer)";

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

export interface MessageRow {
  id: string;
  sender_id: string;
  cursor_created_at: string;
  // deno-lint-ignore no-explicit-any
  message: any;
}

export const MESSAGE_SELECT = `
  select m.id, m.sender_id, m.created_at::text as cursor_created_at,
         app.consultation_message_json(m) as message
    from public.consultation_messages m`;

export const asMessage = (row: MessageRow) =>
  typeof row.message === "string" ? JSON.parse(row.message) : row.message;

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

export interface FileRow {
  id: string;
  consultation_id: string;
  uploaded_by: string;
  size_bytes: string | number;
  mime_type: string;
  status: "pending" | "uploaded";
}

export const objectKey = (consultationId: string, fileId: string) => `${consultationId}/${fileId}`;
