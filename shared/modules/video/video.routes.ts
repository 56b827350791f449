import { createRoute, z } from "@hono/zod-openapi";
import { IsoDateTime } from "../../app/fields.ts";
import { jsonBody, ok, okPage, PageQuerySchema, problems, UuidParamsSchema } from "../../app/openapi.ts";

const tags = ["Video"];

const RoomNameSchema = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "nombre de sala no válido");

export const VideoRoleSchema = z.enum(["doctor", "patient", "observer"]);

export const CreateVideoRoomSchema = z.object({ consultationId: z.uuid() }).openapi("CreateVideoRoom");

export const VideoRoomSchema = z.object({
  consultationId: z.uuid(),
  roomName: z.string(),
  roomSid: z.string(),
  patientId: z.uuid(),
  doctorId: z.uuid(),
  livekitUrl: z.string(),
  createdAt: IsoDateTime,
  role: VideoRoleSchema.openapi({ description: "The caller's role in the room" }),
  token: z.string().openapi({ description: "The caller's own LiveKit token (never the other party's)" }),
  tokenTtlSeconds: z.number().int().openapi({ description: "At most 7200" }),
}).openapi("VideoRoom");

export const GrantObserverSchema = z.object({ userId: z.uuid() }).openapi("GrantObserver");

export const ObserverSchema = z.object({
  consultationId: z.uuid(),
  userId: z.uuid(),
  grantedBy: z.uuid(),
  grantedAt: IsoDateTime,
}).openapi("ConsultationObserver");

export const ActiveRoomSchema = z.object({
  consultationId: z.uuid(),
  roomName: z.string().optional().openapi({ description: "The room's doctor only (never an admin)" }),
  roomSid: z.string().optional(),
  numParticipants: z.number().int(),
  participants: z.array(z.string()).optional().openapi({
    description: "Participant identities: the room's doctor only (never an admin)",
  }),
  createdAt: IsoDateTime,
}).openapi("ActiveVideoRoom");

export const RoomParticipantSchema = z.object({
  identity: z.string(),
  role: z.enum(["doctor", "patient", "observer", "unknown"]),
  state: z.string(),
  joinedAt: IsoDateTime.nullable(),
  isPublisher: z.boolean(),
}).openapi("VideoRoomParticipant");

export const RecordingSchema = z.object({
  egressId: z.string(),
  status: z.enum(["active", "ended", "failed"]),
  startedAt: IsoDateTime,
  endedAt: IsoDateTime.nullable(),
  stopReason: z.enum(["stopped", "consent_revoked", "egress_ended"]).nullable(),
}).openapi("ConsultationRecording");

export const RecordingStateSchema = z.object({
  consultationId: z.uuid(),
  consents: z.object({
    doctor: z.boolean().nullable().openapi({ description: "null: not asked yet" }),
    patient: z.boolean().nullable(),
  }),
  recording: RecordingSchema.nullable().openapi({ description: "The latest recording, if any" }),
}).openapi("ConsultationRecordingState");

export const RoomStatsSchema = z.object({
  consultationId: z.uuid(),
  roomName: z.string(),
  roomSid: z.string(),
  numParticipants: z.number().int(),
  createdAt: IsoDateTime,
  participants: z.array(RoomParticipantSchema),
  recording: RecordingSchema.nullable(),
}).openapi("VideoRoomStats");

export const ConsentSchema = z.object({ granted: z.boolean() }).openapi("RecordingConsent");

export const RoomParamsSchema = z.object({
  roomName: RoomNameSchema.openapi({ param: { name: "roomName", in: "path" } }),
});

export const ParticipantParamsSchema = RoomParamsSchema.extend({
  identity: z.string().min(1).max(128).openapi({ param: { name: "identity", in: "path" } }),
});

export const RemovedSchema = z.object({
  roomName: z.string(),
  identity: z.string(),
  removed: z.literal(true),
}).openapi("VideoParticipantRemoved");

export const createRoom = createRoute({
  method: "post",
  path: "/v1/video/rooms",
  operationId: "createVideoRoom",
  tags,
  summary: "Create the consultation's LiveKit room, or answer the existing one, with the caller's own token",
  description: "Its doctor, its patient or a granted observer (subscribe-only token); in_progress only.",
  request: { body: jsonBody(CreateVideoRoomSchema) },
  responses: {
    201: ok(VideoRoomSchema, "Created"),
    200: ok(VideoRoomSchema, "Already created: the same room"),
    ...problems(403, 404, 409, 503),
  },
});

export const grantObserver = createRoute({
  method: "post",
  path: "/v1/consultations/{id}/observers",
  operationId: "grantConsultationObserver",
  tags,
  summary: "The doctor grants a user to observe the consultation's video (subscribe only; audited)",
  request: { params: UuidParamsSchema, body: jsonBody(GrantObserverSchema) },
  responses: {
    201: ok(ObserverSchema, "Granted"),
    200: ok(ObserverSchema, "Already granted"),
    ...problems(403, 404),
  },
});

export const ObserverParamsSchema = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" } }),
  userId: z.uuid().openapi({ param: { name: "userId", in: "path" } }),
});

export const ObserverRevokedSchema = z.object({
  consultationId: z.uuid(),
  userId: z.uuid(),
  revoked: z.literal(true),
}).openapi("ConsultationObserverRevoked");

export const revokeObserver = createRoute({
  method: "delete",
  path: "/v1/consultations/{id}/observers/{userId}",
  operationId: "revokeConsultationObserver",
  tags,
  summary: "The doctor revokes an observer: no new token, disconnected from the room (audited)",
  request: { params: ObserverParamsSchema },
  responses: {
    200: ok(ObserverRevokedSchema, "Revoked"),
    ...problems(403, 404),
  },
});

export const activeRooms = createRoute({
  method: "get",
  path: "/v1/rooms/active",
  operationId: "listActiveVideoRooms",
  tags,
  summary: "Active LiveKit rooms: a doctor's own, or every one for an admin (without names or identities)",
  request: { query: PageQuerySchema },
  responses: { 200: okPage(ActiveRoomSchema, "A page of active rooms"), ...problems(403, 503) },
});

export const roomStats = createRoute({
  method: "get",
  path: "/v1/rooms/{roomName}/stats",
  operationId: "getVideoRoomStats",
  tags,
  summary: "The room's participants and recording (the room's doctor only)",
  request: { params: RoomParamsSchema },
  responses: { 200: ok(RoomStatsSchema, "The room's stats"), ...problems(403, 404, 503) },
});

export const removeParticipant = createRoute({
  method: "delete",
  path: "/v1/rooms/{roomName}/participants/{identity}",
  operationId: "removeVideoRoomParticipant",
  tags,
  summary: "Disconnect a participant from the room (the room's doctor only)",
  request: { params: ParticipantParamsSchema },
  responses: { 200: ok(RemovedSchema, "Removed"), ...problems(403, 404, 503) },
});

export const recordingConsent = createRoute({
  method: "post",
  path: "/v1/consultations/{id}/recording/consent",
  operationId: "giveRecordingConsent",
  tags,
  summary: "The doctor or the patient gives or revokes consent to record; a revocation stops a recording",
  request: { params: UuidParamsSchema, body: jsonBody(ConsentSchema) },
  responses: { 200: ok(RecordingStateSchema, "Consent stored"), ...problems(403, 404, 503) },
});

export const recordingStart = createRoute({
  method: "post",
  path: "/v1/consultations/{id}/recording/start",
  operationId: "startRecording",
  tags,
  summary: "The doctor starts recording (LiveKit Egress); 409 VID_001 without both parties' consent",
  request: { params: UuidParamsSchema },
  responses: {
    201: ok(RecordingStateSchema, "Recording"),
    200: ok(RecordingStateSchema, "Already recording"),
    ...problems(403, 404, 409, 503),
  },
});

export const recordingStop = createRoute({
  method: "post",
  path: "/v1/consultations/{id}/recording/stop",
  operationId: "stopRecording",
  tags,
  summary: "The doctor stops the active recording; 409 VID_002 when none is active",
  request: { params: UuidParamsSchema },
  responses: { 200: ok(RecordingStateSchema, "Stopped"), ...problems(403, 404, 409, 503) },
});

export type CreateRoomRoute = typeof createRoom;
export type GrantObserverRoute = typeof grantObserver;
export type RevokeObserverRoute = typeof revokeObserver;
export type ActiveRoomsRoute = typeof activeRooms;
export type RoomStatsRoute = typeof roomStats;
export type RemoveParticipantRoute = typeof removeParticipant;
export type RecordingConsentRoute = typeof recordingConsent;
export type RecordingStartRoute = typeof recordingStart;
export type RecordingStopRoute = typeof recordingStop;
