import { createRoute, z } from "@hono/zod-openapi";
import { IsoDateTime } from "../../app/fields.ts";
import { jsonBody, ok, okPage, PageQuerySchema, problems, UuidParamsSchema } from "../../app/openapi.ts";

const tags = ["AI conversations"];

export const AiConversationSchema = z.object({
  id: z.uuid(),
  model: z.string(),
  systemPrompt: z.string(),
  summary: z.string().optional().openapi({ description: "The rolling summary of the older messages" }),
  lastActivityAt: IsoDateTime,
  isActive: z.boolean(),
  doctorId: z.uuid(),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
}).openapi("AiConversation");

export const AiMessageSchema = z.object({
  id: z.uuid(),
  conversationId: z.uuid().optional(),
  role: z.enum(["user", "assistant"]),
  content: z.string(),
  tokenCount: z.number().int(),
  readAt: IsoDateTime.optional(),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
}).openapi("AiMessage");

export const CreateAiMessageSchema = z.object({
  conversationId: z.uuid(),
  role: z.enum(["user", "assistant"]).default("user").openapi({
    description: "`assistant` stores a message in the assistant's voice (a client keeping its transcript): " +
      "stored read, it asks nothing of the assistant, and it never proposes nor confirms an action " +
      "(those are the server's own pending action, confirmed only by the doctor's explicit yes)",
  }),
  content: z.string().trim().min(1).max(4000),
}).openapi("CreateAiMessage");

export const ReadResultSchema = z.object({ updatedCount: z.number().int() }).openapi("AiConversationRead");

export const listConversations = createRoute({
  method: "get",
  path: "/v1/conversations",
  operationId: "listAiConversations",
  tags,
  summary: "The caller's conversations with the WhatsApp assistant (a doctor: one; others: none)",
  request: { query: PageQuerySchema },
  responses: { 200: okPage(AiConversationSchema, "A page of conversations"), ...problems() },
});

export const listMessages = createRoute({
  method: "get",
  path: "/v1/conversations/{id}/messages",
  operationId: "listAiConversationMessages",
  tags,
  summary: "The messages of the caller's conversation, oldest first",
  request: { params: UuidParamsSchema, query: PageQuerySchema },
  responses: { 200: okPage(AiMessageSchema, "A page of messages"), ...problems(404) },
});

export const markRead = createRoute({
  method: "put",
  path: "/v1/conversations/{id}/read",
  operationId: "markAiConversationRead",
  tags,
  summary: "Marks the assistant's unread answers in the caller's conversation as read",
  request: { params: UuidParamsSchema },
  responses: { 200: ok(ReadResultSchema, "How many were marked"), ...problems(404) },
});

export const createMessage = createRoute({
  method: "post",
  path: "/v1/messages",
  operationId: "sendAiConversationMessage",
  tags,
  summary: "Adds a message to the doctor's own conversation (stored only; the assistant answers through " +
    "POST /v1/openai/message or WhatsApp)",
  request: { body: jsonBody(CreateAiMessageSchema) },
  responses: { 201: ok(AiMessageSchema, "The message stored"), ...problems(403, 404) },
});

export type ListConversationsRoute = typeof listConversations;
export type ListMessagesRoute = typeof listMessages;
export type MarkReadRoute = typeof markRead;
export type CreateMessageRoute = typeof createMessage;
