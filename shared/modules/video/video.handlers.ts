import type { Context } from "hono";
import { type VideoAdapter, VideoNotFoundError, type VideoRole } from "../../adapters/livekit/livekit.ts";
import { decodeCursor, encodeCursor } from "../../app/cursor.ts";
import { envelope, pagedEnvelope } from "../../app/envelope.ts";
import { guarded, outside } from "../../app/outside.ts";
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

/** A LiveKit call: timeout and breaker; a failure is 503 SRV_002 (404 `missing` when LiveKit knows no such thing). */
function livekit<T>(c: Context<AppBindings>, what: string, fn: () => Promise<T>, missing?: string) {
  return outside(c, "livekit", what, fn, missing);
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
    await guarded(c.var.deps, "livekit", () => call(c.var.deps.video));
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

/**
 * The room is created in three steps, so that no database connection waits
 * for LiveKit: read the access (the room's name was fixed when the
 * consultation started), create the room in LiveKit (idempotent by name),
 * then record it. A consultation in progress without its `video_rooms` row is
 * the pending state: if the process dies between the last two steps, the next
 * call creates the same room again (LiveKit answers the existing one) and
 * records it once.
 */
export const createRoom: AppRouteHandler<CreateRoomRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { consultationId } = c.req.valid("json");
  const access = await c.var.db.transaction((tx) => videoAccess(tx, consultationId));
  const roomName = liveRoom(access);
  const room = await livekit(c, "create room", () => c.var.deps.video.createRoom(roomName));
  const [recorded] = await c.var.db.afterward((tx) =>
    tx.query<{ room_sid: string; created_at: string; created: boolean }>(
      "select room_sid, app.iso(created_at) as created_at, created from app.record_video_room($1, $2)",
      [consultationId, room.sid],
    )
  );
  const { token, url } = await livekit(c, "video token", () =>
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
  return recorded.created ? c.json(envelope(data, "Sala creada"), 201) : c.json(envelope(data), 200);
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
  const rooms = await livekit(c, "list rooms", () => c.var.deps.video.listRooms());
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
        participants: (await livekit(c, "list participants", () =>
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
  const [room] = await livekit(c, "list rooms", () => c.var.deps.video.listRooms([roomName]));
  if (!room) throw notFound("La sala no está activa");
  const participants = await livekit(
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
  await livekit(
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
    await livekit(c, "stop egress", () => c.var.deps.video.stopRecording(egressId), "egress");
  } catch (error) {
    // LiveKit no longer knows it (already ended): stopped all the same.
    if (!(error instanceof ApiError && error.code === "RES_001")) throw error;
  }
}

/**
 * A revocation commits first, then stops the active recording in LiveKit,
 * then records it stopped. If LiveKit fails the answer is 503 and the
 * recording stays active in the database: a retry of the revocation finds it
 * again and stops it (stopping one LiveKit no longer has counts as stopped).
 */
export const recordingConsent: AppRouteHandler<RecordingConsentRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  const { granted } = c.req.valid("json");
  const message = granted ? "Consentimiento registrado" : "Consentimiento revocado";
  const { toStop, state } = await c.var.db.transaction(async (tx) => {
    const active = await tx.query<{ active_egress_id: string }>(
      "select active_egress_id from app.set_recording_consent($1, $2)",
      [id, granted],
    );
    const toStop = active.map((r) => r.active_egress_id);
    return { toStop, state: toStop.length ? undefined : await recordingState(tx, id) };
  });
  if (state) return c.json(envelope(state, message), 200);
  for (const egressId of toStop) await stopEgress(c, egressId);
  const stopped = await c.var.db.afterward(async (tx) => {
    for (const egressId of toStop) {
      await tx.query("select app.record_recording_stopped($1, 'consent_revoked')", [egressId]);
    }
    return await recordingState(tx, id);
  });
  return c.json(envelope(stopped, message), 200);
};

/**
 * Checked, then started in LiveKit, then recorded; none of it inside a
 * transaction. LiveKit's active egress of the room is the pending state: if
 * the process died after LiveKit started one and before it was recorded, the
 * retry finds it and records it instead of starting a second one. If the
 * record is refused (another start won meanwhile, or the consent was
 * revoked), the egress is stopped.
 */
export const recordingStart: AppRouteHandler<RecordingStartRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  const checked = await c.var.db.transaction(async (tx) => {
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
      return { roomName, state: await recordingState(tx, id) };
    }
    return { roomName, state: undefined };
  });
  if (checked.state) return c.json(envelope(checked.state), 200);
  await livekit(c, "create room", () => c.var.deps.video.createRoom(checked.roomName));
  const [pending] = await livekit(
    c,
    "list egress",
    () => c.var.deps.video.activeRecordings(checked.roomName),
  );
  const egress = pending ??
    await livekit(c, "start egress", () => c.var.deps.video.startRecording(checked.roomName));
  let state;
  try {
    state = await c.var.db.afterward(async (tx) => {
      await tx.query("select app.record_recording_started($1, $2)", [id, egress.egressId]);
      return await recordingState(tx, id);
    });
  } catch (error) {
    // Not stored: this egress must not keep recording.
    await stopEgress(c, egress.egressId).catch(() => {});
    throw error;
  }
  return c.json(envelope(state, "Grabación iniciada"), 201);
};

/** Found, stopped in LiveKit, then recorded; a retry after a failure in between stops nothing twice. */
export const recordingStop: AppRouteHandler<RecordingStopRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  const recording = await c.var.db.transaction(async (tx) => {
    const access = await videoAccess(tx, id);
    if (access.role !== "doctor") throw forbidden("Solo el médico de la consulta detiene la grabación");
    const recording = await latestRecording(tx, id);
    if (recording?.status !== "active") throw new ApiError("VID_002", "No hay una grabación activa");
    return recording;
  });
  await stopEgress(c, recording.egressId);
  const state = await c.var.db.afterward(async (tx) => {
    await tx.query("select app.record_recording_stopped($1, 'stopped')", [recording.egressId]);
    return await recordingState(tx, id);
  });
  return c.json(envelope(state, "Grabación detenida"), 200);
};
