import type { Context } from "hono";
import { type VideoAdapter, VideoNotFoundError, type VideoRole } from "../../adapters/livekit/livekit.ts";
import { decodeCursor, encodeCursor } from "../../app/cursor.ts";
import { envelope, pagedEnvelope } from "../../app/envelope.ts";
import { outside } from "../../app/outside.ts";
import { ApiError, forbidden, notFound } from "../../app/problem.ts";
import { requireRole } from "../../app/roles.ts";
import type { AppBindings, AppRouteHandler } from "../../app/types.ts";
import type { Queryable } from "../../db/database.ts";
import type {
  ActiveRoomsRoute,
  CreateRoomRoute,
  GrantObserverRoute,
  RecordingConsentRoute,
  RecordingStartRoute,
  RecordingStopRoute,
  RemoveParticipantRoute,
  RevokeObserverRoute,
  RoomStatsRoute,
} from "./video.routes.ts";

/**
 * LiveKit tokens last 2 hours (video-livekit.md), LiveKit's own ceiling: a token
 * is checked when its holder joins or reconnects, so it must outlast a long
 * consultation; a client asks POST /v1/consultations/{id}/livekit-token again
 * for a fresh one while the consultation is in progress (refused once closed).
 */
export const VIDEO_TOKEN_TTL_SECONDS = 2 * 60 * 60;
const CONSULTATION_NOT_FOUND = "Consulta no encontrada";
const ROOM_NOT_FOUND = "Sala no encontrada";

interface Access {
  role: VideoRole;
  room_name: string | null;
  status: "waiting" | "in_progress" | "closed";
  doctor_id: string;
  patient_id: string;
}

interface RecordingRow {
  egress_id: string;
  status: "active" | "ended" | "failed";
  started_at: string;
  ended_at: string | null;
  stop_reason: "stopped" | "consent_revoked" | "egress_ended" | null;
}

/**
 * A LiveKit call that follows a committed change (a close, a revocation): the
 * change stands whatever LiveKit answers. What LiveKit no longer has is
 * already done; any other failure is logged.
 */
export async function afterCommitInLiveKit(
  c: Context<AppBindings>,
  what: string,
  call: (video: VideoAdapter) => Promise<void>,
): Promise<void> {
  if (!c.var.deps.video.configured) return;
  try {
    await call(c.var.deps.video);
  } catch (error) {
    if (!(error instanceof VideoNotFoundError)) {
      c.var.log.warn(`${what} failed`, { error: (error as Error).message });
    }
  }
}

/** The caller's part in the consultation's video (doctor, patient or granted observer), or 404. */
export async function videoAccess(tx: Queryable, id: string): Promise<Access> {
  const [row] = await tx.query<Access>("select * from app.video_access($1)", [id]);
  if (!row) throw notFound(CONSULTATION_NOT_FOUND);
  return row;
}

/** The room of an in_progress consultation, or 409. */
export function liveRoom(access: Access): string {
  if (access.status === "closed") throw new ApiError("CON_001", "La consulta está cerrada");
  if (access.status !== "in_progress" || !access.room_name) {
    throw new ApiError("CON_002", "La consulta todavía no empezó: la sala existe cuando está en curso");
  }
  return access.room_name;
}

async function latestRecording(tx: Queryable, id: string) {
  const [row] = await tx.query<RecordingRow>(
    `select r.egress_id, r.status, app.iso(r.started_at) as started_at, app.iso(r.ended_at) as ended_at, r.stop_reason
       from public.consultation_recordings r where r.consultation_id = $1
      order by (r.status = 'active') desc, r.started_at desc limit 1`,
    [id],
  );
  return row
    ? {
      egressId: row.egress_id,
      status: row.status,
      startedAt: row.started_at,
      endedAt: row.ended_at,
      stopReason: row.stop_reason,
    }
    : null;
}

async function recordingState(tx: Queryable, id: string) {
  const [row] = await tx.query<{ doctor: boolean | null; patient: boolean | null }>(
    `select (select rc.granted from public.recording_consents rc
              where rc.consultation_id = c.id and rc.user_id = c.doctor_id) as doctor,
            (select rc.granted from public.recording_consents rc
              where rc.consultation_id = c.id and rc.user_id = c.patient_id) as patient
       from public.consultations c where c.id = $1`,
    [id],
  );
  if (!row) throw notFound(CONSULTATION_NOT_FOUND);
  return {
    consultationId: id,
    consents: { doctor: row.doctor, patient: row.patient },
    recording: await latestRecording(tx, id),
  };
}

// ---------------------------------------------------------------------------
// Rooms and observers
// ---------------------------------------------------------------------------

export const createRoom: AppRouteHandler<CreateRoomRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { consultationId } = c.req.valid("json");
  // One transaction: LiveKit is called inside it, so nothing is stored if it fails.
  const { data, created } = await c.var.db.transaction(async (tx) => {
    const access = await videoAccess(tx, consultationId);
    const roomName = liveRoom(access);
    const room = await outside(c, "create room", () => c.var.deps.video.createRoom(roomName));
    const [recorded] = await tx.query<{ room_sid: string; created_at: string; created: boolean }>(
      "select room_sid, app.iso(created_at) as created_at, created from app.record_video_room($1, $2)",
      [consultationId, room.sid],
    );
    const { token, url } = await outside(c, "video token", () =>
      c.var.deps.video.issueToken({
        roomName,
        identity: c.var.caller.sub,
        role: access.role,
        ttlSeconds: VIDEO_TOKEN_TTL_SECONDS,
      }));
    const data = {
      consultationId,
      roomName,
      roomSid: room.sid,
      patientId: access.patient_id,
      doctorId: access.doctor_id,
      livekitUrl: url,
      createdAt: recorded.created_at,
      role: access.role,
      token,
      tokenTtlSeconds: VIDEO_TOKEN_TTL_SECONDS,
    };
    return { data, created: recorded.created };
  });
  return created ? c.json(envelope(data, "Sala creada"), 201) : c.json(envelope(data), 200);
};

export const grantObserver: AppRouteHandler<GrantObserverRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  const { userId } = c.req.valid("json");
  const [row] = await c.var.db.transaction((tx) =>
    tx.query<{ granted_at: string; granted_by: string; created: boolean }>(
      "select app.iso(granted_at) as granted_at, granted_by, created from app.grant_consultation_observer($1, $2)",
      [id, userId],
    )
  );
  const data = { consultationId: id, userId, grantedBy: row.granted_by, grantedAt: row.granted_at };
  return row.created ? c.json(envelope(data, "Observador autorizado"), 201) : c.json(envelope(data), 200);
};

export const revokeObserver: AppRouteHandler<RevokeObserverRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id, userId } = c.req.valid("param");
  const [{ room }] = await c.var.db.transaction((tx) =>
    tx.query<{ room: string | null }>("select app.revoke_consultation_observer($1, $2) as room", [id, userId])
  );
  // Out of the room now, not when their token expires.
  if (room) {
    await afterCommitInLiveKit(
      c,
      "disconnecting a revoked observer",
      (video) => video.removeParticipant(room, userId),
    );
  }
  return c.json(envelope({ consultationId: id, userId, revoked: true as const }, "Observador revocado"), 200);
};

const CONSULTATION_ROOM = /^consultation-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export const activeRooms: AppRouteHandler<ActiveRoomsRoute> = async (c) => {
  requireRole(c, "doctor", "admin");
  const { limit, cursor } = c.req.valid("query");
  const after = decodeCursor(cursor);
  const admin = c.var.caller.user_role === "admin";
  const rooms = await outside(c, "list rooms", () => c.var.deps.video.listRooms());
  const byId = new Map(
    rooms.flatMap((r) => {
      const id = CONSULTATION_ROOM.exec(r.name)?.[1];
      return id ? [[id, r] as const] : [];
    }),
  );
  // Only the consultations the caller may see: an admin their operational state, a doctor their own.
  const visible = await c.var.db.transaction((tx) =>
    admin
      ? tx.query<{ id: string }>(
        "select s.id from unnest($1::uuid[]) i(id), lateral app.consultation_state(i.id) s",
        [[...byId.keys()]],
      )
      : tx.query<{ id: string }>(
        "select c.id from public.consultations c where c.id = any($1::uuid[]) and c.doctor_id = auth.uid()",
        [[...byId.keys()]],
      )
  );
  const items = visible.map(({ id }) => ({ id, room: byId.get(id)! }))
    .sort((a, b) => a.room.createdAt.localeCompare(b.room.createdAt) || a.id.localeCompare(b.id))
    .filter(({ id, room }) =>
      !after || room.createdAt > after.createdAt || (room.createdAt === after.createdAt && id > after.id)
    );
  const page = items.slice(0, limit);
  const nextCursor = items.length > limit
    ? encodeCursor({ createdAt: page[page.length - 1].room.createdAt, id: page[page.length - 1].id })
    : null;
  const data = await Promise.all(
    page.map(async ({ id, room }) =>
      admin ? { consultationId: id, numParticipants: room.numParticipants, createdAt: room.createdAt } : {
        consultationId: id,
        roomName: room.name,
        roomSid: room.sid,
        numParticipants: room.numParticipants,
        participants: (await outside(c, "list participants", () =>
          c.var.deps.video.listParticipants(room.name), ROOM_NOT_FOUND)).map((p) =>
            p.identity
          ),
        createdAt: room.createdAt,
      }
    ),
  );
  return c.json(pagedEnvelope(data, nextCursor), 200);
};

/** The consultation of a room the caller is the doctor of: 404 if not visible, 403 if not its doctor. */
async function doctorsRoom(c: Context<AppBindings>, tx: Queryable, roomName: string) {
  const [row] = await tx.query<{ id: string; doctor_id: string; patient_id: string }>(
    "select c.id, c.doctor_id, c.patient_id from public.consultations c where c.room_name = $1",
    [roomName],
  );
  if (!row) throw notFound(ROOM_NOT_FOUND);
  if (row.doctor_id !== c.var.caller.sub) throw forbidden("Solo el médico de la consulta administra la sala");
  return row;
}

export const roomStats: AppRouteHandler<RoomStatsRoute> = async (c) => {
  requireRole(c, "doctor");
  const { roomName } = c.req.valid("param");
  const { consultation, observers, recording } = await c.var.db.transaction(async (tx) => {
    const consultation = await doctorsRoom(c, tx, roomName);
    const observers = await tx.query<{ user_id: string }>(
      "select o.user_id from public.consultation_observers o where o.consultation_id = $1",
      [consultation.id],
    );
    return { consultation, observers, recording: await latestRecording(tx, consultation.id) };
  });
  const [room] = await outside(c, "list rooms", () => c.var.deps.video.listRooms([roomName]));
  if (!room) throw notFound("La sala no está activa");
  const participants = await outside(
    c,
    "list participants",
    () => c.var.deps.video.listParticipants(roomName),
    ROOM_NOT_FOUND,
  );
  const observerIds = new Set(observers.map((o) => o.user_id));
  const roleOf = (identity: string) =>
    identity === consultation.doctor_id
      ? "doctor" as const
      : identity === consultation.patient_id
      ? "patient" as const
      : observerIds.has(identity)
      ? "observer" as const
      : "unknown" as const;
  return c.json(
    envelope({
      consultationId: consultation.id,
      roomName,
      roomSid: room.sid,
      numParticipants: room.numParticipants,
      createdAt: room.createdAt,
      participants: participants.map((p) => ({
        identity: p.identity,
        role: roleOf(p.identity),
        state: p.state,
        joinedAt: p.joinedAt,
        isPublisher: p.isPublisher,
      })),
      recording,
    }),
    200,
  );
};

export const removeParticipant: AppRouteHandler<RemoveParticipantRoute> = async (c) => {
  requireRole(c, "doctor");
  const { roomName, identity } = c.req.valid("param");
  await c.var.db.transaction((tx) => doctorsRoom(c, tx, roomName));
  await outside(
    c,
    "remove participant",
    () => c.var.deps.video.removeParticipant(roomName, identity),
    "El participante no está en la sala",
  );
  return c.json(envelope({ roomName, identity, removed: true as const }, "Participante desconectado"), 200);
};

// ---------------------------------------------------------------------------
// Recording
// ---------------------------------------------------------------------------

async function stopEgress(c: Context<AppBindings>, egressId: string) {
  try {
    await outside(c, "stop egress", () => c.var.deps.video.stopRecording(egressId), "egress");
  } catch (error) {
    // LiveKit no longer knows it (already ended): stopped all the same.
    if (!(error instanceof ApiError && error.code === "RES_001")) throw error;
  }
}

export const recordingConsent: AppRouteHandler<RecordingConsentRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  const { granted } = c.req.valid("json");
  // A revocation stops the active recording in the same transaction: if LiveKit
  // fails, nothing changes (503) and the revocation is retried.
  const state = await c.var.db.transaction(async (tx) => {
    const active = await tx.query<{ active_egress_id: string }>(
      "select active_egress_id from app.set_recording_consent($1, $2)",
      [id, granted],
    );
    for (const { active_egress_id: egressId } of active) {
      await stopEgress(c, egressId);
      await tx.query("select app.record_recording_stopped($1, 'consent_revoked')", [egressId]);
    }
    return await recordingState(tx, id);
  });
  return c.json(envelope(state, granted ? "Consentimiento registrado" : "Consentimiento revocado"), 200);
};

export const recordingStart: AppRouteHandler<RecordingStartRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  const { state, started } = await c.var.db.transaction(async (tx) => {
    const access = await videoAccess(tx, id);
    if (access.role !== "doctor") throw forbidden("Solo el médico de la consulta graba");
    const roomName = liveRoom(access);
    const [{ consented }] = await tx.query<{ consented: boolean }>(
      "select app.recording_consented($1) as consented",
      [id],
    );
    if (!consented) {
      throw new ApiError("VID_001", "Grabar requiere el consentimiento explícito del médico y del paciente");
    }
    if ((await latestRecording(tx, id))?.status === "active") {
      return { state: await recordingState(tx, id), started: false };
    }
    await outside(c, "create room", () => c.var.deps.video.createRoom(roomName));
    const egress = await outside(c, "start egress", () => c.var.deps.video.startRecording(roomName));
    try {
      await tx.query("select app.record_recording_started($1, $2)", [id, egress.egressId]);
    } catch (error) {
      // Not stored (e.g. another start won meanwhile): this egress must not keep recording.
      await stopEgress(c, egress.egressId).catch(() => {});
      throw error;
    }
    return { state: await recordingState(tx, id), started: true };
  });
  return started ? c.json(envelope(state, "Grabación iniciada"), 201) : c.json(envelope(state), 200);
};

export const recordingStop: AppRouteHandler<RecordingStopRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  const state = await c.var.db.transaction(async (tx) => {
    const access = await videoAccess(tx, id);
    if (access.role !== "doctor") throw forbidden("Solo el médico de la consulta detiene la grabación");
    const recording = await latestRecording(tx, id);
    if (recording?.status !== "active") throw new ApiError("VID_002", "No hay una grabación activa");
    await stopEgress(c, recording.egressId);
    await tx.query("select app.record_recording_stopped($1, 'stopped')", [recording.egressId]);
    return await recordingState(tx, id);
  });
  return c.json(envelope(state, "Grabación detenida"), 200);
};
