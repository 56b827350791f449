import type { Context } from "hono";
import { envelope } from "../../app/envelope.ts";
import { iso } from "../../app/fields.ts";
import { outside } from "../../app/outside.ts";
import { ApiError, notFound } from "../../app/problem.ts";
import { requireRole } from "../../app/roles.ts";
import type { AppBindings, AppRouteHandler } from "../../app/types.ts";
import { handleTwilioWebhook, type TwilioWebhookKind } from "../../whatsapp-webhook.ts";
import type { SendRoute, StatusRoute, WebhookRoute, WebhookStatusRoute } from "./twilio.routes.ts";

interface WhatsAppMessageRow {
  message_sid: string;
  status: string;
  to_phone: string;
  from_phone: string;
  body: string;
  created_at: string;
  date_sent: string | null;
  updated_at: string;
  error_code: string | null;
  error_message: string | null;
}

/**
 * The recipient is checked and the send counted as the caller, the message
 * sent, then recorded: no transaction (nor the counters' rows) stays held
 * while Twilio answers. A send that then fails stays counted: the limits err
 * on the side of the clinic's bill.
 */
export const send: AppRouteHandler<SendRoute> = async (c) => {
  requireRole(c, "admin", "doctor");
  const { to, body } = c.req.valid("json");
  const phone = to.replace(/^whatsapp:/, "");
  const recipient = await c.var.db.transaction(async (tx) => {
    // Row-level security: an admin sees every user, a doctor themself and their patients.
    const [recipient] = await tx.query<{ id: string }>(
      "select id from public.users where phone = $1 and is_active and deleted_at is null",
      [phone],
    );
    if (!recipient) throw notFound("Destinatario no encontrado");
    const { whatsappSendPerUser: perUser, whatsappSendPerRecipient: perRecipient } =
      c.var.deps.config.costLimits;
    await tx.query("select app.count_whatsapp_send($1, $2, $3, $4, $5)", [
      recipient.id,
      perUser.max,
      perUser.windowSeconds,
      perRecipient.max,
      perRecipient.windowSeconds,
    ]);
    return recipient;
  });
  const sent = await outside(
    c,
    "twilio",
    "whatsapp send",
    () => c.var.deps.whatsapp.send({ to: phone, body }),
  );
  const [row] = await c.var.db.afterward((tx) =>
    tx.query<WhatsAppMessageRow>(
      `insert into public.whatsapp_messages
         (message_sid, direction, purpose, user_id, sent_by, from_phone, to_phone, body, status)
       values ($1, 'outbound', 'manual', $2, (select auth.uid()), $3, $4, $5, $6)
       returning message_sid, status, to_phone, from_phone, body, created_at`,
      [
        sent.messageSid,
        recipient.id,
        sent.from ?? "whatsapp:unknown",
        `whatsapp:${phone}`,
        body,
        sent.status,
      ],
    )
  );
  return c.json(
    envelope({
      success: true as const,
      messageSid: row.message_sid,
      status: row.status,
      to: row.to_phone,
      from: row.from_phone,
      body: row.body,
      dateCreated: iso(row.created_at),
    }),
    200,
  );
};

export const status: AppRouteHandler<StatusRoute> = async (c) => {
  const { messageSid } = c.req.valid("param");
  const [row] = await c.var.db.query<WhatsAppMessageRow>(
    `select message_sid, status, to_phone, from_phone, body, created_at, date_sent, updated_at,
            error_code, error_message
       from public.whatsapp_messages where message_sid = $1`,
    [messageSid],
  );
  if (!row) throw notFound("Mensaje no encontrado");
  return c.json(
    envelope({
      sid: row.message_sid,
      status: row.status,
      to: row.to_phone,
      from: row.from_phone,
      body: row.body,
      dateCreated: iso(row.created_at),
      ...(row.date_sent ? { dateSent: iso(row.date_sent) } : {}),
      dateUpdated: iso(row.updated_at),
      ...(row.error_code ? { errorCode: row.error_code } : {}),
      ...(row.error_message ? { errorMessage: row.error_message } : {}),
    }),
    200,
  );
};

async function answerWebhook(c: Context<AppBindings>, kind: TwilioWebhookKind) {
  const outcome = await handleTwilioWebhook(c.var.deps, c.req.raw, kind, c.req.url);
  if (outcome.status !== 200) throw new ApiError(outcome.code, outcome.message, { errors: outcome.errors });
  return c.body(null, 200);
}

export const webhook: AppRouteHandler<WebhookRoute> = (c) => answerWebhook(c, "message");
export const webhookStatus: AppRouteHandler<WebhookStatusRoute> = (c) => answerWebhook(c, "status");
