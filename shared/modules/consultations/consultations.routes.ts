import { createRoute, z } from "@hono/zod-openapi";
import { FileNameSchema, IsoDateTime, Sha256Schema } from "../../app/fields.ts";
import { jsonBody, ok, okPage, PageQuerySchema, problems, UuidParamsSchema } from "../../app/openapi.ts";
import { PageInfoSchema } from "../../app/envelope.ts";

const tags = ["Consultations"];

export const ConsultationStatusSchema = z.enum(["waiting", "in_progress", "closed"]);

export const QueueItemSchema = z.object({
  position: z.number().int().openapi({ description: "1 = next in the doctor's waiting queue" }),
  checkedInAt: IsoDateTime,
}).openapi("ConsultationQueueItem");

export const ConsultationSchema = z.object({
  id: z.uuid(),
  appointmentId: z.uuid(),
  doctorId: z.uuid(),
  patientId: z.uuid(),
  status: ConsultationStatusSchema,
  queueItem: QueueItemSchema.nullable().openapi({
    description: "Set while the patient is checked in and the consultation waits",
  }),
  videoProvider: z.literal("livekit").nullable(),
  roomName: z.string().nullable().optional().openapi({
    description: "The LiveKit room, once started. Only for the doctor and the patient (never an admin)",
  }),
  checkedInAt: IsoDateTime.nullable(),
  createdAt: IsoDateTime,
  startedAt: IsoDateTime.nullable(),
  closedAt: IsoDateTime.nullable(),
}).openapi("Consultation");

export const OpenConsultationSchema = z.object({ appointmentId: z.uuid() }).openapi("OpenConsultation");

export const MessageFileSchema = z.object({
  fileId: z.uuid(),
  filename: z.string(),
  mimeType: z.string(),
  sizeBytes: z.number().int(),
}).openapi("ConsultationMessageFile");

export const MessageSchema = z.object({
  id: z.uuid(),
  consultationId: z.uuid(),
  senderId: z.uuid(),
  kind: z.enum(["text", "file"]),
  text: z.string().optional(),
  file: MessageFileSchema.optional(),
  clientMsgId: z.string().optional(),
  createdAt: IsoDateTime,
  deliveredAt: IsoDateTime.nullable(),
}).openapi("ConsultationMessage");

export const SendMessageSchema = z.object({
  clientMsgId: z.string().trim().min(1).max(100).optional().openapi({
    description: "The client's id of the message: a retry with the same id returns the original message",
  }),
  text: z.string().trim().min(1).max(5000),
}).openapi("SendConsultationMessage");

export const MessageAckSchema = z.object({
  ok: z.literal(true),
  clientMsgId: z.string().nullable(),
  message: MessageSchema,
}).openapi("ConsultationMessageAck");

export const MessagePageSchema = z.object({
  items: z.array(MessageSchema),
  pageInfo: PageInfoSchema,
}).openapi("ConsultationMessagePage");

export const PrepareFileSchema = z.object({
  filename: FileNameSchema,
  mimeType: z.string().trim().min(1).max(255),
  sizeBytes: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  sha256: Sha256Schema.optional(),
}).openapi("PrepareConsultationFile");

export const PreparedFileSchema = z.object({
  fileId: z.uuid(),
  uploadUrl: z.string().openapi({
    description: "PUT the file here (signed, single object, no other credentials)",
  }),
  bucket: z.string(),
  objectKey: z.string().openapi({ description: "`{consultationId}/{fileId}`" }),
}).openapi("PreparedConsultationFile");

export const ConfirmFileSchema = z.object({ fileId: z.uuid() }).openapi("ConfirmConsultationFile");

export const DownloadSchema = z.object({
  downloadUrl: z.string().openapi({ description: "Signed, valid 5 minutes" }),
}).openapi("ConsultationFileDownload");

export const VideoTokenSchema = z.object({
  token: z.string(),
  roomName: z.string(),
  livekitUrl: z.string(),
}).openapi("ConsultationVideoToken");

export const JoinAckSchema = z.object({
  ok: z.literal(true),
  serverTime: IsoDateTime,
  consultationStatus: ConsultationStatusSchema,
}).openapi("ConsultationJoinAck");

export const MessageParamsSchema = UuidParamsSchema.extend({
  messageId: z.uuid().openapi({ param: { name: "messageId", in: "path" } }),
});

export const FileParamsSchema = UuidParamsSchema.extend({
  fileId: z.uuid().openapi({ param: { name: "fileId", in: "path" } }),
});

export const open = createRoute({
  method: "post",
  path: "/v1/consultations",
  operationId: "openConsultation",
  tags,
  summary: "Open the consultation of a confirmed appointment (its doctor or an admin); again answers it",
  request: { body: jsonBody(OpenConsultationSchema) },
  responses: {
    201: ok(ConsultationSchema, "Opened"),
    200: ok(ConsultationSchema, "Already open"),
    ...problems(403, 404, 409),
  },
});

export const list = createRoute({
  method: "get",
  path: "/v1/consultations",
  operationId: "listConsultations",
  tags,
  summary: "Consultations the caller takes part in (an admin: every one's operational state)",
  request: { query: PageQuerySchema },
  responses: { 200: okPage(ConsultationSchema, "A page of consultations"), ...problems() },
});

export const getOne = createRoute({
  method: "get",
  path: "/v1/consultations/{id}",
  operationId: "getConsultation",
  tags,
  summary: "A consultation (an admin gets its operational state only, without roomName)",
  request: { params: UuidParamsSchema },
  responses: { 200: ok(ConsultationSchema, "The consultation"), ...problems(404) },
});

const transition = (path: string, operationId: string, summary: string, description: string) =>
  createRoute({
    method: "post",
    path: `/v1/consultations/{id}/${path}`,
    operationId,
    tags,
    summary,
    request: { params: UuidParamsSchema },
    responses: { 200: ok(ConsultationSchema, description), ...problems(403, 404, 409) },
  });

export const checkIn = transition(
  "check-in",
  "checkInConsultation",
  "The patient enters the doctor's waiting queue",
  "Checked in, with its queue position",
);
export const start = transition(
  "start",
  "startConsultation",
  "The doctor starts the consultation (in_progress)",
  "Started",
);
export const close = transition(
  "close",
  "closeConsultation",
  "The doctor or an admin closes the consultation; emits consultation.closed",
  "Closed",
);

export const join = createRoute({
  method: "post",
  path: "/v1/consultations/{id}/join",
  operationId: "joinConsultation",
  tags,
  summary: "The REST equivalent of consultation.join's ACK (doctor and patient)",
  request: { params: UuidParamsSchema },
  responses: { 200: ok(JoinAckSchema, "Joined"), ...problems(403, 404) },
});

export const videoToken = createRoute({
  method: "post",
  path: "/v1/consultations/{id}/livekit-token",
  operationId: "createConsultationVideoToken",
  tags,
  summary:
    "A LiveKit access token for the consultation's room (doctor, patient or granted observer; in_progress)",
  request: { params: UuidParamsSchema },
  responses: {
    200: ok(VideoTokenSchema, "A token valid 10 minutes"),
    ...problems(403, 404, 409, 503),
  },
});

export const sendMessage = createRoute({
  method: "post",
  path: "/v1/consultations/{id}/messages",
  operationId: "sendConsultationMessage",
  tags,
  summary: "Send a text message; emits chat.message_created",
  request: { params: UuidParamsSchema, body: jsonBody(SendMessageSchema) },
  responses: {
    201: ok(MessageAckSchema, "Sent"),
    200: ok(MessageAckSchema, "A retry: the original message"),
    ...problems(403, 404, 409),
  },
});

export const listMessages = createRoute({
  method: "get",
  path: "/v1/consultations/{id}/messages",
  operationId: "listConsultationMessages",
  tags,
  summary: "The consultation's messages, oldest first, by (createdAt, id)",
  request: { params: UuidParamsSchema, query: PageQuerySchema },
  responses: { 200: ok(MessagePageSchema, "A page of messages"), ...problems(403, 404) },
});

export const markDelivered = createRoute({
  method: "post",
  path: "/v1/consultations/{id}/messages/{messageId}/delivered",
  operationId: "markConsultationMessageDelivered",
  tags,
  summary: "The recipient marks a message delivered (once); emits chat.message_delivered",
  request: { params: MessageParamsSchema },
  responses: { 200: ok(MessageSchema, "Delivered"), ...problems(403, 404, 409) },
});

export const prepareFile = createRoute({
  method: "post",
  path: "/v1/consultations/{id}/files/prepare",
  operationId: "prepareConsultationFile",
  tags,
  summary: "Declare a file and get a signed upload URL for it",
  request: { params: UuidParamsSchema, body: jsonBody(PrepareFileSchema) },
  responses: {
    201: ok(PreparedFileSchema, "Prepared"),
    ...problems(403, 404, 409, 413, 503),
  },
});

export const confirmFile = createRoute({
  method: "post",
  path: "/v1/consultations/{id}/files/confirm",
  operationId: "confirmConsultationFile",
  tags,
  summary: "Confirm an uploaded file: creates its kind=file message (again answers the same message)",
  request: { params: UuidParamsSchema, body: jsonBody(ConfirmFileSchema) },
  responses: {
    201: ok(MessageSchema, "Confirmed: the file's message"),
    200: ok(MessageSchema, "Already confirmed: the same message"),
    ...problems(403, 404, 409, 503),
  },
});

export const downloadFile = createRoute({
  method: "get",
  path: "/v1/consultations/{id}/files/{fileId}/download",
  operationId: "getConsultationFileDownloadUrl",
  tags,
  summary: "A signed download URL of a confirmed file, valid 5 minutes",
  request: { params: FileParamsSchema },
  responses: { 200: ok(DownloadSchema, "The URL"), ...problems(403, 404, 503) },
});

export type OpenRoute = typeof open;
export type ListRoute = typeof list;
export type GetOneRoute = typeof getOne;
export type TransitionRoute = typeof checkIn;
export type JoinRoute = typeof join;
export type VideoTokenRoute = typeof videoToken;
export type SendMessageRoute = typeof sendMessage;
export type ListMessagesRoute = typeof listMessages;
export type MarkDeliveredRoute = typeof markDelivered;
export type PrepareFileRoute = typeof prepareFile;
export type ConfirmFileRoute = typeof confirmFile;
export type DownloadFileRoute = typeof downloadFile;
