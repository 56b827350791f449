import { createRoute, z } from "@hono/zod-openapi";
import { IsoDateTime } from "../../app/fields.ts";
import { jsonBody, ok, problems } from "../../app/openapi.ts";

const tags = ["Twilio WhatsApp"];

const WhatsAppNumberSchema = z.string().trim()
  .regex(/^(whatsapp:)?\+[1-9]\d{6,14}$/, "debe ser whatsapp:+<E.164> o +<E.164>")
  .openapi({ example: "whatsapp:+5491100000003" });

export const SendWhatsAppSchema = z.object({
  to: WhatsAppNumberSchema.openapi({ description: "The number of a user of the clinic the caller may see" }),
  body: z.string().trim().min(1).max(1600),
}).openapi("SendWhatsApp");

export const SentWhatsAppSchema = z.object({
  success: z.literal(true),
  messageSid: z.string(),
  status: z.string(),
  to: z.string(),
  from: z.string(),
  body: z.string(),
  dateCreated: IsoDateTime,
}).openapi("SentWhatsApp");

export const WhatsAppStatusSchema = z.object({
  sid: z.string(),
  status: z.string(),
  to: z.string(),
  from: z.string(),
  body: z.string(),
  dateCreated: IsoDateTime,
  dateSent: IsoDateTime.optional(),
  dateUpdated: IsoDateTime,
  price: z.string().optional(),
  priceUnit: z.string().optional(),
  errorCode: z.string().optional(),
  errorMessage: z.string().optional(),
}).openapi("WhatsAppMessageStatus");

export const MessageSidParamsSchema = z.object({
  messageSid: z.string().regex(/^[A-Z]{2}[0-9a-fA-F]{32}$/, "debe ser un SID de Twilio").openapi({
    param: { name: "messageSid", in: "path" },
    example: "SM0123456789abcdef0123456789abcdef",
  }),
});

export const send = createRoute({
  method: "post",
  path: "/v1/twilio/whatsapp/send",
  operationId: "sendWhatsAppMessage",
  tags,
  summary: "Sends a WhatsApp message through Twilio's Messages API (admin: to any user; doctor: to their " +
    "patients and themself)",
  request: { body: jsonBody(SendWhatsAppSchema) },
  responses: { 200: ok(SentWhatsAppSchema, "Sent"), ...problems(403, 404, 429, 503) },
});

export const status = createRoute({
  method: "get",
  path: "/v1/twilio/message/{messageSid}/status",
  operationId: "getWhatsAppMessageStatus",
  tags,
  summary: "The status of a message the caller sent, as Twilio's status callbacks reported it",
  request: { params: MessageSidParamsSchema },
  responses: { 200: ok(WhatsAppStatusSchema, "The message's status"), ...problems(404) },
});

const webhookDescription =
  "Called by Twilio (form-encoded, signed with X-Twilio-Signature, checked against " +
  "TWILIO_WEBHOOK_URL: a forged or missing signature is 403 and nothing is stored). Also served by the " +
  "`whatsapp-webhook` function at /functions/v1/whatsapp-webhook.";

export const webhook = createRoute({
  method: "post",
  path: "/v1/twilio/webhook/whatsapp",
  operationId: "receiveWhatsAppMessage",
  tags,
  summary: "Twilio's incoming WhatsApp message (public): stored once per MessageSid, answered later " +
    "through the Messages API",
  description: webhookDescription,
  security: [],
  responses: {
    200: { description: "Received (empty body)" },
    ...problems(400, 403, 413, 415, 503),
  },
});

export const webhookStatus = createRoute({
  method: "post",
  path: "/v1/twilio/webhook/whatsapp/status",
  operationId: "receiveWhatsAppStatus",
  tags,
  summary: "Twilio's status callback of a message sent (public): updates its status",
  description: webhookDescription,
  security: [],
  responses: {
    200: { description: "Applied (empty body)" },
    ...problems(400, 403, 413, 415, 503),
  },
});

export type SendRoute = typeof send;
export type StatusRoute = typeof status;
export type WebhookRoute = typeof webhook;
export type WebhookStatusRoute = typeof webhookStatus;
