/**
 * The assistant's tools. Each runs in a transaction as the doctor the
 * assistant is acting for (their claims, their session), so row-level
 * security decides what it sees: another doctor's patients and schedule do
 * not exist for it. A change (cancel or confirm) is only proposed here; it
 * is carried out when the doctor's next message is an explicit yes.
 */
import { z } from "zod";
import type { ChatTool } from "../../adapters/openai/openai.ts";
import type { Claims, Database, Queryable } from "../../db/database.ts";

export const PendingActionSchema = z.object({
  action: z.enum(["cancel", "confirm"]),
  appointmentId: z.uuid(),
});
export type PendingAction = z.infer<typeof PendingActionSchema>;

export const TOOLS: ChatTool[] = [
  {
    type: "function",
    function: {
      name: "list_todays_appointments",
      description: "Los turnos de hoy (zona horaria de la clínica) del médico que escribe.",
      parameters: { type: "object", properties: {}, additionalProperties: false },
    },
  },
  {
    type: "function",
    function: {
      name: "find_patient_next_appointment",
      description:
        "El próximo turno (pendiente o confirmado) de un paciente del médico, por id o por nombre.",
      parameters: {
        type: "object",
        properties: {
          patientId: { type: "string", description: "UUID del paciente" },
          patientName: { type: "string", description: "Nombre y/o apellido del paciente" },
        },
        additionalProperties: false,
      },
    },
  },
  {
    type: "function",
    function: {
      name: "propose_appointment_change",
      description:
        "Propone cancelar o confirmar un turno del médico. No lo cambia: el médico debe responder " +
        "«sí» en su próximo mensaje para hacerlo.",
      parameters: {
        type: "object",
        properties: {
          appointmentId: { type: "string", description: "UUID del turno" },
          action: { type: "string", enum: ["cancel", "confirm"] },
        },
        required: ["appointmentId", "action"],
        additionalProperties: false,
      },
    },
  },
];

const FindArgs = z.object({
  patientId: z.uuid().optional(),
  patientName: z.string().min(1).max(100).optional(),
});

interface AppointmentRow {
  id: string;
  startsAt: string;
  status: string;
  reason: string;
  patientId: string;
  patientName: string;
}

const APPOINTMENT_COLUMNS =
  `a.id, a.status, app.appointment_reason(a.id) as reason, a.patient_id as "patientId",
  to_char(a.starts_at at time zone app.clinic_time_zone(), 'YYYY-MM-DD HH24:MI') as "startsAt",
  u.name || ' ' || u.last_name as "patientName"`;

/** Runs one tool call as the doctor; answers what the model reads back (JSON). */
export async function runTool(
  db: Database,
  claims: Claims,
  conversationId: string,
  name: string,
  rawArguments: string,
): Promise<unknown> {
  let args: unknown;
  try {
    args = rawArguments ? JSON.parse(rawArguments) : {};
  } catch {
    return { error: "invalid_arguments" };
  }
  return await db.asCaller(claims, async (tx) => {
    switch (name) {
      case "list_todays_appointments":
        return { appointments: await todaysAppointments(tx) };
      case "find_patient_next_appointment": {
        const parsed = FindArgs.safeParse(args);
        if (!parsed.success || (!parsed.data.patientId && !parsed.data.patientName)) {
          return { error: "invalid_arguments" };
        }
        const next = await nextAppointment(tx, parsed.data);
        return next ? { found: true, appointment: next } : { found: false };
      }
      case "propose_appointment_change": {
        const parsed = PendingActionSchema.safeParse(args);
        if (!parsed.success) return { error: "invalid_arguments" };
        const [appointment] = await tx.query<AppointmentRow>(
          `select ${APPOINTMENT_COLUMNS} from public.appointments a join public.users u on u.id = a.patient_id
            where a.id = $1 and a.doctor_id = (select auth.uid())`,
          [parsed.data.appointmentId],
        );
        if (!appointment) return { found: false };
        await tx.query(
          "update public.ai_conversations set pending_action = $2::text::jsonb where id = $1",
          [conversationId, JSON.stringify(parsed.data)],
        );
        return { found: true, appointment, needsExplicitYes: true };
      }
      default:
        return { error: "unknown_tool" };
    }
  });
}

function todaysAppointments(tx: Queryable): Promise<AppointmentRow[]> {
  return tx.query<AppointmentRow>(
    `select ${APPOINTMENT_COLUMNS}
       from public.appointments a join public.users u on u.id = a.patient_id
      where a.doctor_id = (select auth.uid())
        and a.starts_at >= (date_trunc('day', now() at time zone app.clinic_time_zone())
                            at time zone app.clinic_time_zone())
        and a.starts_at < (date_trunc('day', now() at time zone app.clinic_time_zone())
                           at time zone app.clinic_time_zone()) + interval '1 day'
      order by a.starts_at, a.id
      limit 50`,
  );
}

/** No filter by doctor here: row-level security shows the doctor only their own schedule. */
async function nextAppointment(
  tx: Queryable,
  args: { patientId?: string; patientName?: string },
): Promise<AppointmentRow | undefined> {
  const [row] = await tx.query<AppointmentRow>(
    `select ${APPOINTMENT_COLUMNS}
       from public.appointments a join public.users u on u.id = a.patient_id
      where a.starts_at > now() and a.status in ('PENDING', 'CONFIRMED')
        and ($1::uuid is null or a.patient_id = $1::uuid)
        and ($2::text is null or (u.name || ' ' || u.last_name) ilike '%' || $2::text || '%')
      order by a.starts_at, a.id
      limit 1`,
    [args.patientId ?? null, args.patientName ?? null],
  );
  return row;
}

/**
 * Carries out a pending change as the doctor, through the same statements
 * and database rules as POST /v1/appointments/{id}/cancel and
 * PATCH /v1/appointments/{id} { status: CONFIRMED }.
 */
export async function applyPendingAction(tx: Queryable, pending: PendingAction): Promise<boolean> {
  const rows = await tx.query(
    `update public.appointments set status = $2::text::public.appointment_status where id = $1 returning id`,
    [pending.appointmentId, pending.action === "cancel" ? "CANCELLED" : "CONFIRMED"],
  );
  return rows.length > 0;
}
