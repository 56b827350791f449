import { createRoute, z } from "@hono/zod-openapi";
import { PhoneSchema } from "../../app/fields.ts";
import { jsonBody, ok, problems } from "../../app/openapi.ts";

const tags = ["OpenAI"];

export const AssistantMessageSchema = z.object({
  phone: PhoneSchema.openapi({ description: "The doctor's own phone (their WhatsApp number)" }),
  message: z.string().trim().min(1).max(4000),
}).openapi("AssistantMessage");

export const AssistantReplySchema = z.object({
  success: z.literal(true),
  response: z.string(),
}).openapi("AssistantReply");

export const message = createRoute({
  method: "post",
  path: "/v1/openai/message",
  operationId: "sendAssistantMessage",
  tags,
  summary: "Asks the WhatsApp assistant, as the calling doctor: the same conversation, tools and rules " +
    "as a WhatsApp message (the message is stored before the model is called)",
  request: { body: jsonBody(AssistantMessageSchema) },
  responses: {
    200: ok(AssistantReplySchema, "The assistant's answer"),
    ...problems(403, 429, 503),
  },
});

export type MessageRoute = typeof message;
