/**
 * A local stand-in for LiveKit's server API, speaking its real wire format so
 * that the official livekit-server-sdk talks to it unchanged: Twirp over HTTP
 * (POST /twirp/livekit.RoomService/<Method>, /twirp/livekit.Egress/<Method>),
 * JSON bodies in protobuf JSON naming (int64 as strings, enums by name),
 * Twirp errors as `{ code, msg }` with the matching HTTP status, and every
 * call authorized by the SDK's JWT (Authorization: Bearer) verified with the
 * API secret and checked for the method's video grant.
 *
 * It keeps rooms, participants and egresses in memory (no media). Like
 * LiveKit, it sends signed webhooks (Authorization: a JWT whose sha256 claim
 * is the base64 SHA-256 of the body): room_started, room_finished,
 * participant_joined, participant_left, egress_started, egress_ended.
 * Tests add participants with join()/leave(), as a client connecting would.
 */
import { AccessToken, TokenVerifier } from "livekit-server-sdk";

export interface LiveKitStandInOptions {
  apiKey: string;
  apiSecret: string;
  /** Delivers a signed webhook (a POST with its body and Authorization header). */
  deliver?: (request: Request) => Response | Promise<Response>;
}

interface Participant {
  sid: string;
  identity: string;
  joinedAt: number;
}

interface Room {
  sid: string;
  name: string;
  creationTime: number;
  emptyTimeout: number;
  maxParticipants: number;
  participants: Map<string, Participant>;
}

interface Egress {
  egressId: string;
  roomId: string;
  roomName: string;
  status: "EGRESS_STARTING" | "EGRESS_ACTIVE" | "EGRESS_ENDING" | "EGRESS_COMPLETE";
  startedAt: number;
  endedAt?: number;
}

type Grant = "roomCreate" | "roomList" | "roomAdmin" | "roomRecord";
// deno-lint-ignore no-explicit-any
type Json = any;

const TWIRP_STATUS: Record<string, number> = {
  invalid_argument: 400,
  malformed: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  bad_route: 404,
  already_exists: 409,
  failed_precondition: 412,
  internal: 500,
};

class TwirpFailure extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

const twirpError = (code: string, msg: string) =>
  new Response(JSON.stringify({ code, msg }), {
    status: TWIRP_STATUS[code] ?? 500,
    headers: { "Content-Type": "application/json" },
  });

const sid = (prefix: string) => `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
const now = () => Math.floor(Date.now() / 1000);

export interface LiveKitStandIn {
  /** Serves /twirp/livekit.RoomService/* and /twirp/livekit.Egress/*. */
  handle(request: Request): Promise<Response>;
  /** A participant connects to a room (created if missing, as LiveKit does); sends participant_joined. */
  join(roomName: string, identity: string): void;
  leave(roomName: string, identity: string): void;
  /** Resolves when every webhook sent so far has been delivered. */
  settled(): Promise<void>;
  /** Answers every later request `ms` late (0: at once), as a slow service would. */
  setDelay(ms: number): void;
  /** How many Twirp calls each method answered (for tests). */
  calls: Map<string, number>;
}

export function createLiveKitStandIn(options: LiveKitStandInOptions): LiveKitStandIn {
  const verifier = new TokenVerifier(options.apiKey, options.apiSecret);
  const rooms = new Map<string, Room>();
  const egresses = new Map<string, Egress>();
  const pending = new Set<Promise<unknown>>();
  const calls = new Map<string, number>();

  const roomJson = (r: Room) => ({
    sid: r.sid,
    name: r.name,
    emptyTimeout: r.emptyTimeout,
    maxParticipants: r.maxParticipants,
    creationTime: String(r.creationTime),
    creationTimeMs: String(r.creationTime * 1000),
    numParticipants: r.participants.size,
    numPublishers: r.participants.size,
    activeRecording: [...egresses.values()].some((e) =>
      e.roomName === r.name && e.status !== "EGRESS_COMPLETE"
    ),
  });
  const participantJson = (p: Participant) => ({
    sid: p.sid,
    identity: p.identity,
    state: "ACTIVE",
    joinedAt: String(p.joinedAt),
    joinedAtMs: String(p.joinedAt * 1000),
    name: p.identity,
    isPublisher: true,
  });
  const egressJson = (e: Egress) => ({
    egressId: e.egressId,
    roomId: e.roomId,
    roomName: e.roomName,
    status: e.status,
    startedAt: String(BigInt(e.startedAt) * 1_000_000_000n),
    ...(e.endedAt ? { endedAt: String(BigInt(e.endedAt) * 1_000_000_000n) } : {}),
  });

  function emit(event: string, fields: Record<string, unknown>) {
    if (!options.deliver) return;
    const body = JSON.stringify({ event, id: sid("EV"), createdAt: String(now()), ...fields });
    const delivery = (async () => {
      // After the current call has answered, as LiveKit sends them asynchronously.
      await new Promise((r) => setTimeout(r, 0));
      const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)));
      const token = new AccessToken(options.apiKey, options.apiSecret);
      token.sha256 = btoa(String.fromCharCode(...hash));
      const res = await options.deliver!(
        new Request("http://livekit.local/webhook", {
          method: "POST",
          headers: { "Content-Type": "application/webhook+json", Authorization: await token.toJwt() },
          body,
        }),
      );
      await res.body?.cancel();
    })().catch(() => {});
    pending.add(delivery);
    delivery.finally(() => pending.delete(delivery));
  }

  function ensureRoom(name: string, emptyTimeout = 300, maxParticipants = 0): Room {
    let room = rooms.get(name);
    if (!room) {
      room = {
        sid: sid("RM"),
        name,
        creationTime: now(),
        emptyTimeout,
        maxParticipants,
        participants: new Map(),
      };
      rooms.set(name, room);
      emit("room_started", { room: roomJson(room) });
    }
    return room;
  }

  function roomOf(name: string): Room {
    const room = rooms.get(name);
    if (!room) throw new TwirpFailure("not_found", "requested room does not exist");
    return room;
  }

  async function authorize(request: Request, grant: Grant, room?: string) {
    const header = request.headers.get("Authorization") ?? "";
    const token = header.startsWith("Bearer ") ? header.slice(7) : "";
    if (!token) throw new TwirpFailure("unauthenticated", "authorization header missing");
    let claims;
    try {
      claims = await verifier.verify(token);
    } catch {
      throw new TwirpFailure("unauthenticated", "invalid token");
    }
    const video = claims.video ?? {};
    if (!video[grant] || (grant === "roomAdmin" && room !== undefined && video.room !== room)) {
      throw new TwirpFailure("permission_denied", "permissions denied");
    }
  }

  const methods: Record<string, (request: Request, body: Json) => Promise<unknown>> = {
    "livekit.RoomService/CreateRoom": async (request, body) => {
      await authorize(request, "roomCreate");
      if (!body.name) throw new TwirpFailure("invalid_argument", "room name is required");
      return roomJson(ensureRoom(body.name, body.emptyTimeout ?? 300, body.maxParticipants ?? 0));
    },
    "livekit.RoomService/ListRooms": async (request, body) => {
      await authorize(request, "roomList");
      const names: string[] = body.names ?? [];
      const list = [...rooms.values()].filter((r) => names.length === 0 || names.includes(r.name));
      return { rooms: list.map(roomJson) };
    },
    "livekit.RoomService/DeleteRoom": async (request, body) => {
      await authorize(request, "roomCreate");
      const room = roomOf(body.room);
      rooms.delete(room.name);
      emit("room_finished", { room: roomJson(room) });
      return {};
    },
    "livekit.RoomService/ListParticipants": async (request, body) => {
      await authorize(request, "roomAdmin", body.room);
      return { participants: [...roomOf(body.room).participants.values()].map(participantJson) };
    },
    "livekit.RoomService/RemoveParticipant": async (request, body) => {
      await authorize(request, "roomAdmin", body.room);
      const room = roomOf(body.room);
      const participant = room.participants.get(body.identity);
      if (!participant) throw new TwirpFailure("not_found", "participant not found");
      room.participants.delete(body.identity);
      emit("participant_left", { room: roomJson(room), participant: participantJson(participant) });
      return {};
    },
    "livekit.Egress/StartRoomCompositeEgress": async (request, body) => {
      await authorize(request, "roomRecord");
      const room = roomOf(body.roomName);
      const egress: Egress = {
        egressId: sid("EG"),
        roomId: room.sid,
        roomName: room.name,
        status: "EGRESS_STARTING",
        startedAt: now(),
      };
      egresses.set(egress.egressId, egress);
      emit("egress_started", { egressInfo: egressJson(egress) });
      return egressJson(egress);
    },
    "livekit.Egress/StopEgress": async (request, body) => {
      await authorize(request, "roomRecord");
      const egress = egresses.get(body.egressId);
      if (!egress) throw new TwirpFailure("not_found", "egress not found");
      if (egress.status === "EGRESS_COMPLETE" || egress.status === "EGRESS_ENDING") {
        throw new TwirpFailure(
          "failed_precondition",
          `egress with status ${egress.status} cannot be stopped`,
        );
      }
      egress.status = "EGRESS_ENDING";
      const answer = egressJson(egress);
      egress.status = "EGRESS_COMPLETE";
      egress.endedAt = now();
      emit("egress_ended", { egressInfo: egressJson(egress) });
      return answer;
    },
    "livekit.Egress/ListEgress": async (request, body) => {
      await authorize(request, "roomRecord");
      const items = [...egresses.values()].filter((e) =>
        (!body.roomName || e.roomName === body.roomName) &&
        (!body.egressId || e.egressId === body.egressId) &&
        (!body.active || e.status !== "EGRESS_COMPLETE")
      );
      return { items: items.map(egressJson) };
    },
  };

  let delayMs = 0;
  return {
    calls,
    setDelay(ms) {
      delayMs = ms;
    },
    async handle(request) {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      const url = new URL(request.url);
      const method = /^\/twirp\/(livekit\.[A-Za-z]+\/[A-Za-z]+)$/.exec(url.pathname)?.[1];
      const fn = method ? methods[method] : undefined;
      if (request.method !== "POST" || !fn) {
        return twirpError("bad_route", `no handler for path "${url.pathname}"`);
      }
      let body: Json;
      try {
        const text = await request.text();
        body = text ? JSON.parse(text) : {};
      } catch {
        return twirpError("malformed", "the json request could not be decoded");
      }
      try {
        const answer = await fn(request, body);
        calls.set(method!, (calls.get(method!) ?? 0) + 1);
        return Response.json(answer);
      } catch (error) {
        if (error instanceof TwirpFailure) return twirpError(error.code, error.message);
        return twirpError("internal", (error as Error).message);
      }
    },
    join(roomName, identity) {
      const room = ensureRoom(roomName);
      const participant = { sid: sid("PA"), identity, joinedAt: now() };
      room.participants.set(identity, participant);
      emit("participant_joined", { room: roomJson(room), participant: participantJson(participant) });
    },
    leave(roomName, identity) {
      const room = rooms.get(roomName);
      const participant = room?.participants.get(identity);
      if (!room || !participant) return;
      room.participants.delete(identity);
      emit("participant_left", { room: roomJson(room), participant: participantJson(participant) });
    },
    async settled() {
      while (pending.size) await Promise.all([...pending]);
    },
  };
}
