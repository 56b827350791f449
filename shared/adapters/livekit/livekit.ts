/**
 * Video, as the modules see it: access tokens (signed locally), LiveKit's
 * RoomService (rooms and participants), its Egress API (recordings) and its
 * signed webhooks. The modules decide who may do what (in the database, as
 * the caller) before they call this; the adapter only talks to LiveKit.
 */
export type VideoRole = "doctor" | "patient" | "observer";

export interface VideoTokenRequest {
  roomName: string;
  /** The participant's identity: the user id. */
  identity: string;
  role: VideoRole;
  /** Seconds the token is valid for joining (at most 2 hours). */
  ttlSeconds: number;
}

export interface VideoRoom {
  name: string;
  sid: string;
  numParticipants: number;
  /** ISO 8601 UTC. */
  createdAt: string;
}

export interface VideoParticipant {
  identity: string;
  sid: string;
  state: string;
  /** ISO 8601 UTC, or null if not joined yet. */
  joinedAt: string | null;
  isPublisher: boolean;
}

export interface VideoEgress {
  egressId: string;
  roomName: string;
  status: string;
}

/** A verified LiveKit webhook, reduced to what the platform stores. */
export interface VideoWebhookEvent {
  id: string;
  event: string;
  roomName?: string;
  roomSid?: string;
  participantIdentity?: string;
  egressId?: string;
  egressStatus?: string;
  /** ISO 8601 UTC. */
  createdAt: string;
}

export interface VideoAdapter {
  /** Whether URL, key and secret are set. */
  readonly configured: boolean;
  /** A signed access token for `roomName` with the grants of `role`, and the URL clients connect to. */
  issueToken(request: VideoTokenRequest): Promise<{ token: string; url: string }>;
  /** Creates the room, or answers the existing one (LiveKit's CreateRoom is idempotent by name). */
  createRoom(name: string): Promise<VideoRoom>;
  /** Active rooms; only those named when `names` is given. */
  listRooms(names?: string[]): Promise<VideoRoom[]>;
  listParticipants(roomName: string): Promise<VideoParticipant[]>;
  /** Throws VideoNotFoundError when the room or the participant is not there. */
  removeParticipant(roomName: string, identity: string): Promise<void>;
  /** Ends the room and disconnects everyone in it; VideoNotFoundError when the room is not there. */
  deleteRoom(roomName: string): Promise<void>;
  /** Starts a room-composite recording (Egress). */
  startRecording(roomName: string): Promise<VideoEgress>;
  /** The room's egresses that have not ended. */
  activeRecordings(roomName: string): Promise<VideoEgress[]>;
  /** Stops an egress; VideoNotFoundError when LiveKit does not know it. */
  stopRecording(egressId: string): Promise<VideoEgress>;
  /** A cheap RoomService call within `timeoutMs`: whether LiveKit answered. */
  ping(timeoutMs: number): Promise<boolean>;
  /** Verifies a webhook's signature (Authorization JWT with the body's sha256); throws VideoWebhookError. */
  receiveWebhook(body: string, authorization: string | null): Promise<VideoWebhookEvent>;
}

/** Video is not configured, or LiveKit failed. */
export class VideoAdapterError extends Error {
  override name = "VideoAdapterError";
}

/** LiveKit answered not_found (a room, participant or egress that is not there). */
export class VideoNotFoundError extends VideoAdapterError {
  override name = "VideoNotFoundError";
}

/** A webhook whose signature or body does not verify. */
export class VideoWebhookError extends Error {
  override name = "VideoWebhookError";
}
