/**
 * The privileged path of the WhatsApp assistant: Twilio's webhooks and the
 * reminders have no caller, so they run as service_role. Kept to what needs
 * it: storing what arrived (once per MessageSid), resolving a phone number to
 * a clinic user, opening and ending the assistant's session for a doctor,
 * recording what was sent and the status Twilio reports, and claiming due
 * reminders. Everything the assistant reads or changes for a doctor runs as
 * that doctor, under row-level security.
 */
import type { AppRole } from "../../auth/jwt.ts";
import type { Claims, Database, Queryable } from "../../db/database.ts";

/** How long an assistant run may act for its user. */
export const ASSISTANT_SESSION_MINUTES = 10;

export const DEFAULT_SYSTEM_PROMPT =
  "Eres el asistente de WhatsApp de la clínica para sus médicos. Respondes en español, breve y claro. " +
  "Solo usas las herramientas para consultar la agenda del médico que te escribe y sus pacientes; " +
  "nunca inventas datos. Para cancelar o confirmar un turno, propones el cambio con la herramienta " +
  "y pides al médico que responda «sí» para hacerlo.";

export interface InboundMessage {
  messageSid: string;
  from: string;
  to: string;
  body: string;
}

export type InboundResult =
  | { duplicate: true }
  | {
    duplicate: false;
    inboundId: string;
    sender:
      | { kind: "unknown" }
      | { kind: "patient"; userId: string; phone: string }
      | { kind: "doctor"; userId: string; phone: string; conversationId: string };
  };

const phoneOf = (address: string) => address.replace(/^whatsapp:/, "");

/**
 * Stores an inbound WhatsApp message once (a Twilio retry of the same
 * MessageSid answers `duplicate`), and resolves who sent it. A doctor's text
 * is also stored in their AI conversation (created on first use), in the
 * same transaction: nothing is called out before it is stored.
 */
export async function receiveInbound(
  db: Database,
  message: InboundMessage,
  assistant: { model: string; tokenCount: number },
): Promise<InboundResult> {
  return await db.asService(async (tx) => {
    const [user] = await tx.query<{ id: string; role: AppRole; phone: string }>(
      `select id, role, phone from public.users
        where phone = $1 and is_active and deleted_at is null`,
      [phoneOf(message.from)],
    );
    const purpose = !user ? "unknown_sender" : user.role === "doctor" ? "assistant" : "reminder_reply";
    const [inbound] = await tx.query<{ id: string }>(
      `insert into public.whatsapp_messages
         (message_sid, direction, purpose, user_id, from_phone, to_phone, body, status)
       values ($1, 'inbound', $2, $3, $4, $5, $6, 'received')
       on conflict (message_sid) do nothing returning id`,
      [
        message.messageSid,
        user?.role === "admin" ? "ignored" : purpose,
        user?.id ?? null,
        message.from,
        message.to,
        message.body,
      ],
    );
    if (!inbound) return { duplicate: true };
    if (!user || user.role === "admin") {
      return { duplicate: false, inboundId: inbound.id, sender: { kind: "unknown" } };
    }
    if (user.role === "patient") {
      return {
        duplicate: false,
        inboundId: inbound.id,
        sender: { kind: "patient", userId: user.id, phone: user.phone },
      };
    }
    const [conversation] = await tx.query<{ id: string }>(
      `insert into public.ai_conversations (doctor_id, model, system_prompt) values ($1, $2, $3)
       on conflict (doctor_id) do update set is_active = true returning id`,
      [user.id, assistant.model, DEFAULT_SYSTEM_PROMPT],
    );
    await tx.query(
      `insert into public.ai_messages (conversation_id, role, content, token_count, whatsapp_message_id)
       values ($1, 'user', $2, $3, $4)`,
      [conversation.id, message.body, assistant.tokenCount, inbound.id],
    );
    return {
      duplicate: false,
      inboundId: inbound.id,
      sender: { kind: "doctor", userId: user.id, phone: user.phone, conversationId: conversation.id },
    };
  });
}

/**
 * Opens a session for one assistant run acting for this user: the claims a
 * login would give them, with a session row of its own that expires in a
 * few minutes and is ended with the run. The token is never signed nor sent
 * anywhere: the claims go straight to private.start_request.
 */
export async function openAssistantSession(
  db: Database,
  user: { userId: string; phone: string; role: AppRole },
): Promise<Claims> {
  const jti = crypto.randomUUID();
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + ASSISTANT_SESSION_MINUTES * 60;
  await db.asService((tx) =>
    tx.query(
      `insert into private.sessions (jti, user_id, expires_at, purpose, user_role)
       values ($1, $2, to_timestamp($3), 'assistant_run', $4)`,
      [jti, user.userId, exp, user.role],
    )
  );
  return {
    sub: user.userId,
    jti,
    role: "authenticated",
    aud: "authenticated",
    user_role: user.role,
    phone: user.phone,
    iat,
    exp,
  };
}

export async function endAssistantSession(db: Database, claims: Claims): Promise<void> {
  await db.asService((tx) =>
    tx.query(
      `update private.sessions set revoked_at = now(), revoked_reason = 'run_ended'
        where jti = $1 and purpose = 'assistant_run' and revoked_at is null`,
      [claims.jti],
    )
  );
}

export interface OutboundRecord {
  messageSid: string;
  purpose: "assistant" | "reminder" | "reminder_reply" | "unknown_sender" | "rate_limit_notice";
  userId: string | null;
  from: string;
  to: string;
  body: string;
  status: string;
}

/** Records a message sent, and marks the inbound one it answers (if any) processed. */
export async function recordOutbound(
  db: Database,
  outbound: OutboundRecord,
  answered?: { inboundId: string; failed: boolean },
): Promise<string> {
  return await db.asService(async (tx) => {
    const [row] = await tx.query<{ id: string }>(
      `insert into public.whatsapp_messages
         (message_sid, direction, purpose, user_id, from_phone, to_phone, body, status)
       values ($1, 'outbound', $2, $3, $4, $5, $6, $7)
       returning id`,
      [
        outbound.messageSid,
        outbound.purpose,
        outbound.userId,
        outbound.from,
        outbound.to,
        outbound.body,
        outbound.status,
      ],
    );
    if (answered) {
      await tx.query(
        `update public.whatsapp_messages set processed_at = now(), status = $2 where id = $1`,
        [answered.inboundId, answered.failed ? "answered_with_apology" : "answered"],
      );
    }
    return row.id;
  });
}

/** Marks an inbound message that could not be answered at all (kept, for a later look). */
export async function markInboundFailed(db: Database, inboundId: string, errorCode: string): Promise<void> {
  await db.asService((tx) =>
    tx.query(
      "update public.whatsapp_messages set status = 'failed', error_code = $2 where id = $1",
      [inboundId, errorCode],
    )
  );
}

export interface StatusCallback {
  messageSid: string;
  status: string;
  errorCode?: string;
  errorMessage?: string;
}

const STATUS_ORDER = "array['accepted', 'queued', 'sending', 'sent', 'delivered', 'read']";

/**
 * Applies Twilio's status callback to the message it names; a status never
 * goes back to an earlier one, and a failure always counts. A callback that
 * overtakes the recording of its message waits for it
 * (private.whatsapp_early_statuses, applied by a trigger when it is recorded).
 */
export async function applyStatusCallback(db: Database, callback: StatusCallback): Promise<boolean> {
  return await db.asService(async (tx) => {
    if (await updateStatus(tx, callback)) return true;
    const [known] = await tx.query("select 1 from public.whatsapp_messages where message_sid = $1", [
      callback.messageSid,
    ]);
    if (known) return false;
    await tx.query(
      `insert into private.whatsapp_early_statuses as e (message_sid, status, error_code, error_message)
       values ($1, $2, $3, $4)
       on conflict (message_sid) do update
         set status = excluded.status, error_code = excluded.error_code, error_message = excluded.error_message
       where excluded.status in ('failed', 'undelivered')
          or array_position(${STATUS_ORDER}, excluded.status)
             >= coalesce(array_position(${STATUS_ORDER}, e.status), 0)`,
      [callback.messageSid, callback.status, callback.errorCode ?? null, callback.errorMessage ?? null],
    );
    return false;
  });
}

async function updateStatus(tx: Queryable, callback: StatusCallback): Promise<boolean> {
  const rows = await tx.query(
    `update public.whatsapp_messages
        set status = $2,
            error_code = coalesce($3, error_code),
            error_message = coalesce($4, error_message),
            date_sent = case when $2 in ('sent', 'delivered', 'read') then coalesce(date_sent, now())
                             else date_sent end
      where message_sid = $1 and direction = 'outbound'
        and ($2 in ('failed', 'undelivered')
             or array_position(${STATUS_ORDER}, $2::text)
                >= coalesce(array_position(${STATUS_ORDER}, status), 0))
      returning id`,
    [callback.messageSid, callback.status, callback.errorCode ?? null, callback.errorMessage ?? null],
  );
  return rows.length > 0;
}

// ---------------------------------------------------------------------------
// Reminders
// ---------------------------------------------------------------------------

export interface DueReminder {
  appointmentId: string;
  kind: "24h" | "1h";
  patientId: string;
  patientPhone: string;
  patientName: string;
  doctorName: string;
  startsAt: string;
}

/**
 * Claims the reminders due now (24 h before and 1 h before an appointment
 * that is pending or confirmed), one row per appointment and kind: a rerun
 * finds them claimed and sends nothing. An appointment booked less than an
 * hour ahead gets only the 1 h one; less than a day ahead, no 24 h one once
 * the hour is near.
 */
export async function claimDueReminders(db: Database, limit = 100): Promise<DueReminder[]> {
  return await db.asService((tx) =>
    tx.query<DueReminder>(
      `with due as (
         select a.id, case when a.starts_at <= now() + interval '1 hour' then '1h' else '24h' end as kind,
                a.patient_id, a.starts_at, a.doctor_id
           from public.appointments a
          where a.status in ('PENDING', 'CONFIRMED')
            and a.starts_at > now()
            and a.starts_at <= now() + interval '24 hours'
          order by a.starts_at
          limit $1
       ), claimed as (
         insert into public.appointment_reminders (appointment_id, kind, patient_id)
         select id, kind, patient_id from due
         on conflict (appointment_id, kind) do nothing
         returning appointment_id, kind
       )
       select c.appointment_id as "appointmentId", c.kind, d.patient_id as "patientId",
              p.phone as "patientPhone", p.name as "patientName",
              doc.name || ' ' || doc.last_name as "doctorName",
              to_char(d.starts_at at time zone app.clinic_time_zone(), 'DD/MM/YYYY HH24:MI') as "startsAt"
         from claimed c
         join due d on d.id = c.appointment_id
         join public.users p on p.id = d.patient_id and p.is_active and p.deleted_at is null
         join public.users doc on doc.id = d.doctor_id`,
      [limit],
    )
  );
}

/** Links a reminder to the message that carried it. */
export async function recordReminderSent(
  db: Database,
  reminder: DueReminder,
  whatsappMessageId: string,
): Promise<void> {
  await db.asService((tx) =>
    tx.query(
      "update public.appointment_reminders set whatsapp_message_id = $3 where appointment_id = $1 and kind = $2",
      [reminder.appointmentId, reminder.kind, whatsappMessageId],
    )
  );
}

/** A reminder that could not be sent is released, so that the next run tries again. */
export async function releaseReminder(db: Database, reminder: DueReminder): Promise<void> {
  await db.asService((tx) =>
    tx.query(
      `delete from public.appointment_reminders
        where appointment_id = $1 and kind = $2 and whatsapp_message_id is null`,
      [reminder.appointmentId, reminder.kind],
    )
  );
}

/** Records a patient's answer to their reminder (1: confirmed, 2: cancelled). */
export async function recordReminderReply(
  db: Database,
  appointmentId: string,
  reply: "confirmed" | "cancelled",
): Promise<void> {
  await db.asService((tx) =>
    tx.query(
      `update public.appointment_reminders set reply = $2, replied_at = now()
        where appointment_id = $1 and reply is null`,
      [appointmentId, reply],
    )
  );
}
