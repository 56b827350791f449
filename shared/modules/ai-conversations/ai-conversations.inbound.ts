/**
 * What happens to a WhatsApp message once it is stored: a doctor gets the
 * assistant's answer (or, if the model cannot be reached after its retries,
 * a short apology); a patient's "1" or "2" answers their latest reminder;
 * anyone else gets a polite fixed reply. Every reply goes out through the
 * Messages API, retried with backoff, and is recorded.
 */
import { describeError, type Logger } from "../../app/logger.ts";
import { guarded, guardedModel } from "../../app/outside.ts";
import { isPgError } from "../../app/pg-errors.ts";
import { retryWithBackoff } from "../../app/retry.ts";
import type { Deps } from "../../app/types.ts";
import type { Claims } from "../../db/database.ts";
import { hitRateLimits } from "../auth/auth.privileged.ts";
import {
  answerDoctor,
  APOLOGY,
  AssistantUnavailableError,
  estimateTokens,
  PATIENT_REPLY,
  RATE_LIMITED_REPLY,
  UNKNOWN_SENDER_REPLY,
} from "./ai-conversations.assistant.ts";
import {
  endAssistantSession,
  type InboundMessage,
  markInboundFailed,
  openAssistantSession,
  type OutboundRecord,
  receiveInbound,
  recordOutbound,
  recordReminderReply,
} from "./ai-conversations.privileged.ts";

type Stored = Exclude<Awaited<ReturnType<typeof receiveInbound>>, { duplicate: true }>;

/** Stores the message (once per MessageSid). Answers undefined for a retry of one already stored. */
export async function storeInbound(deps: Deps, message: InboundMessage): Promise<Stored | undefined> {
  const stored = await receiveInbound(deps.db, message, {
    model: deps.assistantModel.model,
    tokenCount: estimateTokens(message.body),
  });
  return stored.duplicate ? undefined : stored;
}

/** Answers a stored message. Never throws: failures are logged and recorded. */
export async function answerInbound(deps: Deps, message: InboundMessage, stored: Stored): Promise<void> {
  const log = deps.logger.child({ component: "whatsapp-assistant", inboundId: stored.inboundId });
  const sender = stored.sender;
  try {
    if (await throttled(deps, log, message, stored)) return;
    if (sender.kind === "unknown") {
      await reply(deps, log, message, stored.inboundId, {
        purpose: "unknown_sender",
        userId: null,
        body: UNKNOWN_SENDER_REPLY,
      });
      return;
    }
    const claims = await openAssistantSession(deps.db, {
      userId: sender.userId,
      phone: sender.phone,
      role: sender.kind,
    });
    try {
      if (sender.kind === "patient") {
        const body = await answerPatient(deps, claims, message.body);
        await reply(deps, log, message, stored.inboundId, {
          purpose: "reminder_reply",
          userId: sender.userId,
          body,
        });
        return;
      }
      let body: string;
      let failed = false;
      try {
        body = (await answerDoctor(
          { db: deps.db, model: guardedModel(deps), log },
          claims,
          sender.conversationId,
          message.body,
        )).answer;
      } catch (error) {
        if (!(error instanceof AssistantUnavailableError)) throw error;
        log.warn("assistant unavailable", describeError(error.cause));
        body = APOLOGY;
        failed = true;
      }
      await reply(
        deps,
        log,
        message,
        stored.inboundId,
        { purpose: "assistant", userId: sender.userId, body },
        failed,
      );
    } finally {
      await endAssistantSession(deps.db, claims);
    }
  } catch (error) {
    log.error("whatsapp answer failed", describeError(error));
    await markInboundFailed(deps.db, stored.inboundId, "ANSWER_FAILED").catch(() => {});
  }
}

/**
 * A flood from one number (a loop, or someone writing from a spoofed number)
 * must not become a flood of model calls and replies paid for by the clinic.
 * Past the per-phone limit a message is kept, marked RATE_LIMITED, and not
 * answered; the first one past it gets a short notice (once per window).
 */
async function throttled(deps: Deps, log: Logger, message: InboundMessage, stored: Stored): Promise<boolean> {
  const phone = message.from.replace(/^whatsapp:/, "");
  const { whatsappPerPhone, whatsappNoticePerPhone } = deps.rateLimits;
  const wait = await hitRateLimits(deps.db, [{
    name: "whatsapp:phone",
    subject: phone,
    limit: whatsappPerPhone,
  }]);
  if (wait === undefined) return false;
  log.warn("whatsapp sender over the limit", { retryAfterSeconds: wait });
  await markInboundFailed(deps.db, stored.inboundId, "RATE_LIMITED");
  const notice = await hitRateLimits(deps.db, [
    { name: "whatsapp:notice", subject: phone, limit: whatsappNoticePerPhone },
  ]);
  if (notice === undefined) {
    const userId = stored.sender.kind === "unknown" ? null : stored.sender.userId;
    // Not linked to the inbound message, which stays RATE_LIMITED.
    await reply(deps, log, message, undefined, {
      purpose: "rate_limit_notice",
      userId,
      body: RATE_LIMITED_REPLY,
    });
  }
  return true;
}

async function reply(
  deps: Deps,
  log: Logger,
  inbound: InboundMessage,
  /** The message this answers (marked answered), if any. */
  inboundId: string | undefined,
  outbound: Pick<OutboundRecord, "purpose" | "userId" | "body">,
  failed = false,
): Promise<void> {
  const to = inbound.from.replace(/^whatsapp:/, "");
  const sent = await sendWithRetry(deps, log, { to, body: outbound.body });
  await recordOutbound(deps.db, {
    ...outbound,
    messageSid: sent.messageSid,
    status: sent.status,
    from: sent.from ?? inbound.to,
    to: inbound.from,
  }, inboundId ? { inboundId, failed } : undefined);
}

/** Twilio's Messages API, retried with exponential backoff (3 tries), each behind Twilio's timeout and breaker. */
export function sendWithRetry(deps: Deps, log: Logger, message: { to: string; body: string }) {
  return retryWithBackoff(() => guarded(deps, "twilio", () => deps.whatsapp.send(message)), {
    attempts: 3,
    baseDelayMs: 500,
    onRetry: (attempt, error) => log.warn("whatsapp send retry", { attempt, ...describeError(error) }),
  });
}

/**
 * A patient's answer to their latest reminder of an upcoming appointment, as
 * the patient (row-level security and the appointment rules of the REST
 * API): "2" cancels it; "1" confirms their attendance (only the doctor or an
 * admin may change an appointment to CONFIRMED).
 */
async function answerPatient(deps: Deps, claims: Claims, text: string): Promise<string> {
  const choice = text.trim();
  if (choice !== "1" && choice !== "2") return PATIENT_REPLY;
  try {
    const appointmentId = await deps.db.asCaller(claims, async (tx) => {
      const [reminder] = await tx.query<{ appointmentId: string }>(
        `select r.appointment_id as "appointmentId"
           from public.appointment_reminders r
           join public.appointments a on a.id = r.appointment_id
          where r.patient_id = (select auth.uid()) and r.reply is null
            and a.starts_at > now() and a.status in ('PENDING', 'CONFIRMED')
          order by r.sent_at desc limit 1`,
      );
      if (!reminder) return undefined;
      if (choice === "2") {
        await tx.query("update public.appointments set status = 'CANCELLED' where id = $1 returning id", [
          reminder.appointmentId,
        ]);
      }
      return reminder.appointmentId;
    });
    if (!appointmentId) return "No encontré un turno próximo pendiente de respuesta.";
    await recordReminderReply(deps.db, appointmentId, choice === "1" ? "confirmed" : "cancelled");
    return choice === "1"
      ? "¡Gracias! Registramos que vas a asistir a tu turno."
      : "Listo: tu turno quedó cancelado.";
  } catch (error) {
    if (isPgError(error) && error.code === "P0001") {
      return `No se pudo cancelar: ${error.detail ?? "el turno ya no cambia"}.`;
    }
    throw error;
  }
}
