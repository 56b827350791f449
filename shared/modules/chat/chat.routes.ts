import { createRoute, z } from "@hono/zod-openapi";
import { PageInfoSchema } from "../../app/envelope.ts";
import { FileNameSchema, IsoDateTime, Sha256Schema } from "../../app/fields.ts";
import { jsonBody, ok, okPage, PageQuerySchema, problems, UuidParamsSchema } from "../../app/openapi.ts";

const tags = ["Chat"];

export const ConversationTypeSchema = z.enum(["direct", "consultation", "emergency", "group"]);

const PersonSchema = z.object({
  id: z.uuid(),
  fullName: z.string(),
  userType: z.enum(["admin", "doctor", "patient"]),
}).openapi("ChatPerson");

export const ParticipantSchema = z.object({
  userId: z.uuid(),
  userType: z.enum(["admin", "doctor", "patient"]),
  fullName: z.string(),
  status: z.enum(["active", "left"]),
  joinedAt: IsoDateTime,
  leftAt: IsoDateTime.nullable(),
}).openapi("ChatParticipant");

export const ConversationSettingsSchema = z.object({
  muted: z.boolean(),
  archived: z.boolean(),
  pinned: z.boolean(),
}).openapi("ChatConversationSettings");

export const LastMessageSchema = z.object({
  id: z.uuid(),
  sender: PersonSchema,
  content: z.string().nullable(),
  messageType: z.enum(["text", "file"]),
  isDeleted: z.boolean(),
  isRead: z.boolean(),
  timestamp: IsoDateTime,
}).openapi("ChatLastMessage");

export const ConversationSchema = z.object({
  id: z.uuid(),
  type: ConversationTypeSchema,
  title: z.string().nullable().optional(),
  description: z.string().nullable().optional(),
  consultationId: z.uuid().nullable(),
  participants: z.array(ParticipantSchema),
  settings: ConversationSettingsSchema.optional().openapi({ description: "The caller's own settings" }),
  lastMessage: LastMessageSchema.nullable().optional(),
  unreadCount: z.number().int().optional(),
  totalMessages: z.number().int(),
  reports: z.number().int().optional().openapi({ description: "An admin's moderation view only" }),
  createdBy: z.uuid().nullable(),
  isActive: z.boolean().optional(),
  lastActivityAt: IsoDateTime,
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
}).openapi("ChatConversation", {
  description: "For an admin (moderation) only metadata: no title, description, last message or settings",
});

export const CreateConversationSchema = z.object({
  type: ConversationTypeSchema.default("direct"),
  participants: z.array(z.uuid()).min(1).max(20).openapi({
    description: "The other participants' user ids (one, except in a group)",
  }),
  title: z.string().trim().min(1).max(200).optional(),
  description: z.string().trim().max(1000).optional(),
  consultationId: z.uuid().optional().openapi({ description: "Required for type consultation" }),
}).openapi("CreateChatConversation");

export const UpdateConversationSchema = z.object({
  muted: z.boolean().optional(),
  archived: z.boolean().optional(),
  pinned: z.boolean().optional(),
}).refine((body) => Object.keys(body).length > 0, { message: "indique muted, archived o pinned" })
  .openapi("UpdateChatConversation");

const booleanQuery = z.enum(["true", "false"]).transform((v) => v === "true");

export const ConversationListQuerySchema = PageQuerySchema.extend({
  type: ConversationTypeSchema.optional().openapi({ param: { name: "type", in: "query" } }),
  unread: booleanQuery.optional().openapi({
    param: { name: "unread", in: "query" },
    description: "true: only conversations with unread messages; false: only without",
  }),
  archived: booleanQuery.optional().openapi({
    param: { name: "archived", in: "query" },
    description: "true: only archived; false (default): only not archived",
  }),
});

export const AttachmentSchema = z.object({
  id: z.uuid(),
  filename: z.string(),
  mimeType: z.string(),
  size: z.number().int(),
}).openapi("ChatAttachment");

export const MessageSchema = z.object({
  id: z.uuid(),
  conversationId: z.uuid(),
  sender: PersonSchema,
  messageType: z.enum(["text", "file"]),
  content: z.string().nullable().openapi({ description: "null once deleted" }),
  attachments: z.array(AttachmentSchema),
  replyTo: z.object({
    messageId: z.uuid(),
    senderName: z.string().nullable(),
    contentPreview: z.string().nullable(),
    timestamp: IsoDateTime,
  }).nullable(),
  readBy: z.array(z.object({ userId: z.uuid(), readAt: IsoDateTime })),
  deliveryStatus: z.enum(["sent", "read"]),
  isEdited: z.boolean(),
  editedAt: IsoDateTime.nullable(),
  editHistory: z.array(z.object({ content: z.string().nullable(), replacedAt: IsoDateTime })).openapi({
    description: "The earlier texts of an edited message (empty once deleted)",
  }),
  isDeleted: z.boolean(),
  deletedAt: IsoDateTime.nullable(),
  clientMsgId: z.string().nullable(),
  timestamp: IsoDateTime,
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
}).openapi("ChatMessage");

export const SendMessageSchema = z.object({
  clientMsgId: z.string().trim().min(1).max(100).optional().openapi({
    description: "The client's id of the message: a retry with the same id returns the original message",
  }),
  content: z.string().trim().min(1).max(5000).optional(),
  replyToId: z.uuid().optional(),
  attachments: z.array(z.uuid()).max(5).optional().openapi({
    description: "fileIds from POST /v1/chat/upload-file, uploaded to their uploadUrl",
  }),
}).refine((body) => body.content !== undefined || (body.attachments?.length ?? 0) > 0, {
  message: "un mensaje lleva contenido o archivos",
  path: ["content"],
}).openapi("SendChatMessage");

export const MessageAckSchema = z.object({
  ok: z.literal(true),
  clientMsgId: z.string().nullable(),
  message: MessageSchema,
}).openapi("ChatMessageAck");

export const MessagePageSchema = z.object({
  items: z.array(MessageSchema),
  pageInfo: PageInfoSchema,
}).openapi("ChatMessagePage");

export const EditMessageSchema = z.object({ content: z.string().trim().min(1).max(5000) })
  .openapi("EditChatMessage");

export const ReadReceiptSchema = z.object({
  messageId: z.uuid(),
  readBy: z.uuid(),
  readAt: IsoDateTime,
}).openapi("ChatReadReceipt");

export const PrepareFileSchema = z.object({
  conversationId: z.uuid(),
  filename: FileNameSchema,
  mimeType: z.string().trim().min(1).max(255),
  sizeBytes: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  sha256: Sha256Schema.optional(),
}).openapi("PrepareChatFile");

export const PreparedFileSchema = z.object({
  fileId: z.uuid(),
  uploadUrl: z.string().openapi({ description: "PUT the file here (signed, single object)" }),
  bucket: z.string(),
  objectKey: z.string().openapi({ description: "`{conversationId}/{fileId}`" }),
}).openapi("PreparedChatFile");

export const DownloadSchema = z.object({
  downloadUrl: z.string().openapi({ description: "Signed, valid 5 minutes" }),
}).openapi("ChatFileDownload");

export const SearchQuerySchema = PageQuerySchema.extend({
  query: z.string().trim().min(1).max(200).openapi({ param: { name: "query", in: "query" } }),
  conversationId: z.uuid().optional().openapi({ param: { name: "conversationId", in: "query" } }),
});

export const SearchHitSchema = z.object({
  type: z.enum(["message", "conversation"]).openapi({
    description: "A message's text, or a conversation's title or description",
  }),
  conversationId: z.uuid(),
  conversationType: ConversationTypeSchema,
  messageId: z.uuid().nullable(),
  sender: PersonSchema.nullable(),
  highlight: z.string().openapi({ description: "Fragments of the text, matches within <mark></mark>" }),
  timestamp: IsoDateTime,
}).openapi("ChatSearchHit");

export const UnreadCountSchema = z.object({
  total: z.number().int(),
  conversations: z.array(z.object({ conversationId: z.uuid(), unreadCount: z.number().int() })),
}).openapi("ChatUnreadCount");

export const BlockUserSchema = z.object({ userId: z.uuid() }).openapi("BlockChatUser");
export const BlockSchema = z.object({ blockedUserId: z.uuid(), blockedAt: IsoDateTime }).openapi("ChatBlock");

export const ReportReasonSchema = z.enum(["spam", "abuse", "inappropriate", "misinformation", "other"]);

export const ReportMessageSchema = z.object({
  messageId: z.uuid(),
  reason: ReportReasonSchema,
  details: z.string().trim().max(1000).optional(),
}).openapi("ReportChatMessage");

export const ReportSchema = z.object({
  id: z.uuid(),
  messageId: z.uuid(),
  conversationId: z.uuid(),
  reason: ReportReasonSchema,
  details: z.string().nullable(),
  createdAt: IsoDateTime,
}).openapi("ChatReport");

export const ModerationReportSchema = z.object({
  id: z.uuid(),
  reason: ReportReasonSchema,
  details: z.string().nullable(),
  reportedBy: PersonSchema,
  conversationId: z.uuid(),
  conversationType: ConversationTypeSchema,
  message: z.object({
    id: z.uuid(),
    sender: PersonSchema,
    content: z.string().nullable().openapi({ description: "The reported message's text (null if deleted)" }),
    isDeleted: z.boolean(),
    isEdited: z.boolean(),
    timestamp: IsoDateTime,
  }),
  createdAt: IsoDateTime,
}).openapi("ChatModerationReport");

export const StartCallSchema = z.object({ conversationId: z.uuid() }).openapi("StartChatVideoCall");
export const CallRefSchema = z.object({ callId: z.uuid() }).openapi("ChatVideoCallRef");

export const VideoCallSchema = z.object({
  callId: z.uuid(),
  conversationId: z.uuid(),
  status: z.enum(["active", "ended"]),
  roomName: z.string(),
  startedBy: z.uuid(),
  startedAt: IsoDateTime,
  endedAt: IsoDateTime.nullable(),
  accessToken: z.string().optional().openapi({ description: "LiveKit token, valid 10 minutes" }),
  livekitUrl: z.string().optional(),
}).openapi("ChatVideoCall");

export const MessageIdParamsSchema = UuidParamsSchema;

// ---------------------------------------------------------------------------
// Conversations
// ---------------------------------------------------------------------------

export const listConversations = createRoute({
  method: "get",
  path: "/v1/chat/conversations",
  operationId: "listChatConversations",
  tags,
  summary: "The caller's conversations, latest activity first (an admin: every one's metadata)",
  request: { query: ConversationListQuerySchema },
  responses: { 200: okPage(ConversationSchema, "A page of conversations"), ...problems() },
});

export const createConversation = createRoute({
  method: "post",
  path: "/v1/chat/conversations",
  operationId: "createChatConversation",
  tags,
  summary:
    "Start a conversation (a patient with their doctor, a doctor with their patient, doctors in a group)",
  request: { body: jsonBody(CreateConversationSchema) },
  responses: {
    201: ok(ConversationSchema, "Created"),
    200: ok(ConversationSchema, "The pair's open conversation of that type"),
    ...problems(403, 404, 409),
  },
});

export const getConversation = createRoute({
  method: "get",
  path: "/v1/chat/conversations/{id}",
  operationId: "getChatConversation",
  tags,
  summary: "A conversation (an admin: its metadata only)",
  request: { params: UuidParamsSchema },
  responses: { 200: ok(ConversationSchema, "The conversation"), ...problems(404) },
});

export const updateConversation = createRoute({
  method: "put",
  path: "/v1/chat/conversations/{id}",
  operationId: "updateChatConversation",
  tags,
  summary: "The caller's settings of the conversation: mute, archive, pin",
  request: { params: UuidParamsSchema, body: jsonBody(UpdateConversationSchema) },
  responses: { 200: ok(ConversationSchema, "Updated"), ...problems(404) },
});

export const leaveConversation = createRoute({
  method: "delete",
  path: "/v1/chat/conversations/{id}",
  operationId: "leaveChatConversation",
  tags,
  summary: "Leave the conversation (for the caller only; its messages are kept)",
  request: { params: UuidParamsSchema },
  responses: { 204: { description: "Left" }, ...problems(404) },
});

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

export const listMessages = createRoute({
  method: "get",
  path: "/v1/chat/conversations/{id}/messages",
  operationId: "listChatMessages",
  tags,
  summary: "The conversation's messages, newest first, by (createdAt, id)",
  request: { params: UuidParamsSchema, query: PageQuerySchema },
  responses: { 200: ok(MessagePageSchema, "A page of messages"), ...problems(404) },
});

export const sendMessage = createRoute({
  method: "post",
  path: "/v1/chat/conversations/{id}/messages",
  operationId: "sendChatMessage",
  tags,
  summary: "Send a message (idempotent by clientMsgId); emits new_message (and file_shared per file)",
  request: { params: UuidParamsSchema, body: jsonBody(SendMessageSchema) },
  responses: {
    201: ok(MessageAckSchema, "Sent"),
    200: ok(MessageAckSchema, "A retry: the original message"),
    ...problems(403, 404, 409, 429, 503),
  },
});

export const getMessage = createRoute({
  method: "get",
  path: "/v1/chat/messages/{id}",
  operationId: "getChatMessage",
  tags,
  summary: "A message, with its read receipts and edit history",
  request: { params: MessageIdParamsSchema },
  responses: { 200: ok(MessageSchema, "The message"), ...problems(404) },
});

export const editMessage = createRoute({
  method: "put",
  path: "/v1/chat/messages/{id}",
  operationId: "editChatMessage",
  tags,
  summary: "Edit one's own message (its earlier text stays in editHistory); emits message_edited",
  request: { params: MessageIdParamsSchema, body: jsonBody(EditMessageSchema) },
  responses: { 200: ok(MessageSchema, "Edited"), ...problems(403, 404, 409) },
});

export const deleteMessage = createRoute({
  method: "delete",
  path: "/v1/chat/messages/{id}",
  operationId: "deleteChatMessage",
  tags,
  summary: "Delete one's own message for everyone (a tombstone stays); emits message_deleted",
  request: { params: MessageIdParamsSchema },
  responses: { 204: { description: "Deleted" }, ...problems(403, 404, 409) },
});

export const markRead = createRoute({
  method: "post",
  path: "/v1/chat/messages/{id}/read",
  operationId: "markChatMessageRead",
  tags,
  summary: "Mark the message (and every earlier one) read; emits message_read",
  request: { params: MessageIdParamsSchema },
  responses: { 200: ok(ReadReceiptSchema, "Read"), ...problems(403, 404) },
});

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

export const uploadFile = createRoute({
  method: "post",
  path: "/v1/chat/upload-file",
  operationId: "uploadChatFile",
  tags,
  summary: "Declare a file for a conversation and get its signed upload URL; then send it in a message",
  request: { body: jsonBody(PrepareFileSchema) },
  responses: {
    201: ok(PreparedFileSchema, "Prepared"),
    ...problems(403, 404, 413, 429, 503),
  },
});

export const downloadFile = createRoute({
  method: "get",
  path: "/v1/chat/files/{id}/download",
  operationId: "getChatFileDownloadUrl",
  tags,
  summary: "A signed download URL of a shared file, valid 5 minutes (participants only)",
  request: { params: UuidParamsSchema },
  responses: { 200: ok(DownloadSchema, "The URL"), ...problems(404, 503) },
});

// ---------------------------------------------------------------------------
// Search, unread counts, blocks, reports
// ---------------------------------------------------------------------------

export const search = createRoute({
  method: "get",
  path: "/v1/chat/search",
  operationId: "searchChatMessages",
  tags,
  summary: "Full-text search (Spanish) in the caller's conversations and their messages, newest first",
  request: { query: SearchQuerySchema },
  responses: { 200: okPage(SearchHitSchema, "A page of matches"), ...problems() },
});

export const unreadCount = createRoute({
  method: "get",
  path: "/v1/chat/unread-count",
  operationId: "getChatUnreadCount",
  tags,
  summary: "Unread messages per conversation and in total",
  responses: { 200: ok(UnreadCountSchema, "The counts"), ...problems() },
});

export const blockUser = createRoute({
  method: "post",
  path: "/v1/chat/block-user",
  operationId: "blockChatUser",
  tags,
  summary: "Block a user: neither can message the other nor start a conversation (never an admin)",
  request: { body: jsonBody(BlockUserSchema) },
  responses: {
    201: ok(BlockSchema, "Blocked"),
    200: ok(BlockSchema, "Already blocked"),
    ...problems(403, 404),
  },
});

export const unblockUser = createRoute({
  method: "delete",
  path: "/v1/chat/block-user/{id}",
  operationId: "unblockChatUser",
  tags,
  summary: "Unblock a user one blocked",
  request: { params: UuidParamsSchema },
  responses: { 204: { description: "Unblocked" }, ...problems(404) },
});

export const reportMessage = createRoute({
  method: "post",
  path: "/v1/chat/report-message",
  operationId: "reportChatMessage",
  tags,
  summary: "Report a message of one's conversation to the admins",
  request: { body: jsonBody(ReportMessageSchema) },
  responses: {
    201: ok(ReportSchema, "Reported"),
    200: ok(ReportSchema, "Already reported"),
    ...problems(404),
  },
});

export const listReports = createRoute({
  method: "get",
  path: "/v1/chat/reports",
  operationId: "listChatReports",
  tags,
  summary: "The admins' moderation list: reports with the reported message's text (admin only)",
  request: { query: PageQuerySchema },
  responses: { 200: okPage(ModerationReportSchema, "A page of reports"), ...problems(403) },
});

// ---------------------------------------------------------------------------
// Video calls
// ---------------------------------------------------------------------------

export const startCall = createRoute({
  method: "post",
  path: "/v1/chat/video-call/start",
  operationId: "startChatVideoCall",
  tags,
  summary: "Start a video call in a conversation (LiveKit); emits video_call_started",
  request: { body: jsonBody(StartCallSchema) },
  responses: {
    201: ok(VideoCallSchema, "Started, with the caller's token"),
    ...problems(403, 404, 409, 429, 503),
  },
});

export const joinCall = createRoute({
  method: "post",
  path: "/v1/chat/video-call/join",
  operationId: "joinChatVideoCall",
  tags,
  summary: "A participant's token for an active call",
  request: { body: jsonBody(CallRefSchema) },
  responses: {
    200: ok(VideoCallSchema, "The call, with the caller's token"),
    ...problems(403, 404, 409, 503),
  },
});

export const endCall = createRoute({
  method: "post",
  path: "/v1/chat/video-call/end",
  operationId: "endChatVideoCall",
  tags,
  summary: "End the call (any participant); emits video_call_ended",
  request: { body: jsonBody(CallRefSchema) },
  responses: { 200: ok(VideoCallSchema, "Ended"), ...problems(404) },
});

export type ListConversationsRoute = typeof listConversations;
export type CreateConversationRoute = typeof createConversation;
export type GetConversationRoute = typeof getConversation;
export type UpdateConversationRoute = typeof updateConversation;
export type LeaveConversationRoute = typeof leaveConversation;
export type ListMessagesRoute = typeof listMessages;
export type SendMessageRoute = typeof sendMessage;
export type GetMessageRoute = typeof getMessage;
export type EditMessageRoute = typeof editMessage;
export type DeleteMessageRoute = typeof deleteMessage;
export type MarkReadRoute = typeof markRead;
export type UploadFileRoute = typeof uploadFile;
export type DownloadFileRoute = typeof downloadFile;
export type SearchRoute = typeof search;
export type UnreadCountRoute = typeof unreadCount;
export type BlockUserRoute = typeof blockUser;
export type UnblockUserRoute = typeof unblockUser;
export type ReportMessageRoute = typeof reportMessage;
export type ListReportsRoute = typeof listReports;
export type StartCallRoute = typeof startCall;
export type JoinCallRoute = typeof joinCall;
export type EndCallRoute = typeof endCall;
