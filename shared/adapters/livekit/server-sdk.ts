/**
 * VideoAdapter over LiveKit with the official livekit-server-sdk (loaded on
 * first use): AccessToken for tokens, RoomServiceClient for rooms and
 * participants, EgressClient for recordings, WebhookReceiver for webhooks.
 *
 * Grants by role: the doctor publishes camera, microphone and screen share
 * and administers the room; the patient publishes camera and microphone
 * only; an observer subscribes only. None may record from the client.
 */
import type {
  VideoAdapter,
  VideoEgress,
  VideoParticipant,
  VideoRoom,
  VideoTokenRequest,
  VideoWebhookEvent,
} from "./livekit.ts";
import { VideoAdapterError, VideoNotFoundError, VideoWebhookError } from "./livekit.ts";

export interface LiveKitSettings {
  url?: string;
  apiKey?: string;
  apiSecret?: string;
}

/** The longest a token may be valid for. */
export const MAX_TOKEN_TTL_SECONDS = 2 * 60 * 60;
/** Seconds LiveKit keeps an empty room open. */
const EMPTY_TIMEOUT_SECONDS = 10 * 60;

type Sdk = typeof import("livekit-server-sdk");
let sdk: Promise<Sdk> | undefined;
const loadSdk = () => sdk ??= import("livekit-server-sdk");

const iso = (seconds: bigint | number | undefined) =>
  seconds ? new Date(Number(seconds) * 1000).toISOString() : null;

export function createLiveKitAdapter(settings: LiveKitSettings): VideoAdapter {
  const configured = Boolean(settings.url && settings.apiKey && settings.apiSecret);

  function required() {
    const { url, apiKey, apiSecret } = settings;
    if (!url || !apiKey || !apiSecret) {
      throw new VideoAdapterError(
        "Video is not configured: set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET",
      );
    }
    return { url, apiKey, apiSecret };
  }

  /** Runs a server API call; LiveKit's errors become the adapter's. */
  async function server<T>(
    fn: (
      clients: { rooms: InstanceType<Sdk["RoomServiceClient"]>; egress: InstanceType<Sdk["EgressClient"]> },
      s: Sdk,
    ) => Promise<T>,
    timeoutSeconds = 10,
  ): Promise<T> {
    const { url, apiKey, apiSecret } = required();
    const s = await loadSdk();
    const options = { requestTimeout: timeoutSeconds, failover: false };
    const rooms = new s.RoomServiceClient(url, apiKey, apiSecret, options);
    const egress = new s.EgressClient(url, apiKey, apiSecret, options);
    try {
      return await fn({ rooms, egress }, s);
    } catch (error) {
      if (error instanceof s.TwirpError) {
        const message = `LiveKit ${error.code ?? error.status}: ${error.message}`;
        throw error.code === "not_found" || error.status === 404
          ? new VideoNotFoundError(message, { cause: error })
          : new VideoAdapterError(message, { cause: error });
      }
      throw new VideoAdapterError(`LiveKit unreachable: ${(error as Error).message}`, { cause: error });
    }
  }

  const toRoom = (
    r: { name: string; sid: string; numParticipants: number; creationTime: bigint },
  ): VideoRoom => ({
    name: r.name,
    sid: r.sid,
    numParticipants: r.numParticipants,
    createdAt: iso(r.creationTime) ?? new Date().toISOString(),
  });

  return {
    configured,

    async issueToken(request: VideoTokenRequest) {
      const { url, apiKey, apiSecret } = required();
      const { AccessToken, TrackSource } = await loadSdk();
      const token = new AccessToken(apiKey, apiSecret, {
        identity: request.identity,
        ttl: Math.min(request.ttlSeconds, MAX_TOKEN_TTL_SECONDS),
        metadata: JSON.stringify({ role: request.role }),
      });
      const doctor = request.role === "doctor";
      const observer = request.role === "observer";
      token.addGrant({
        roomJoin: true,
        room: request.roomName,
        canPublish: !observer,
        canPublishSources: observer
          ? []
          : doctor
          ? [TrackSource.CAMERA, TrackSource.MICROPHONE, TrackSource.SCREEN_SHARE]
          : [TrackSource.CAMERA, TrackSource.MICROPHONE],
        canSubscribe: true,
        canPublishData: !observer,
        roomAdmin: doctor,
        roomRecord: false,
        hidden: false,
      });
      return { token: await token.toJwt(), url };
    },

    createRoom: (name) =>
      server(async ({ rooms }) =>
        toRoom(await rooms.createRoom({ name, emptyTimeout: EMPTY_TIMEOUT_SECONDS, maxParticipants: 10 }))
      ),

    listRooms: (names) => server(async ({ rooms }) => (await rooms.listRooms(names)).map(toRoom)),

    listParticipants: (roomName) =>
      server(async ({ rooms }, s) =>
        (await rooms.listParticipants(roomName)).map((p): VideoParticipant => ({
          identity: p.identity,
          sid: p.sid,
          state: s.ParticipantInfo_State[p.state] ?? String(p.state),
          joinedAt: iso(p.joinedAt),
          isPublisher: p.isPublisher,
        }))
      ),

    removeParticipant: (roomName, identity) =>
      server(({ rooms }) => rooms.removeParticipant(roomName, identity)),

    deleteRoom: (roomName) => server(({ rooms }) => rooms.deleteRoom(roomName)),

    startRecording: (roomName) =>
      server(async ({ egress }, s): Promise<VideoEgress> => {
        const info = await egress.startRoomCompositeEgress(
          roomName,
          { file: new s.EncodedFileOutput({ filepath: `recordings/${roomName}/{time}.mp4` }) },
          { layout: "speaker" },
        );
        return { egressId: info.egressId, roomName: info.roomName, status: s.EgressStatus[info.status] };
      }),

    activeRecordings: (roomName) =>
      server(async ({ egress }, s) =>
        (await egress.listEgress({ roomName, active: true })).map((info): VideoEgress => ({
          egressId: info.egressId,
          roomName: info.roomName,
          status: s.EgressStatus[info.status],
        }))
      ),

    stopRecording: (egressId) =>
      server(async ({ egress }, s): Promise<VideoEgress> => {
        const info = await egress.stopEgress(egressId);
        return { egressId: info.egressId, roomName: info.roomName, status: s.EgressStatus[info.status] };
      }),

    async ping(timeoutMs) {
      if (!configured) return false;
      try {
        await server(({ rooms }) => rooms.listRooms(["health-check"]), Math.max(timeoutMs / 1000, 0.1));
        return true;
      } catch {
        return false;
      }
    },

    async receiveWebhook(body, authorization): Promise<VideoWebhookEvent> {
      const { apiKey, apiSecret } = required();
      const s = await loadSdk();
      let event;
      try {
        event = await new s.WebhookReceiver(apiKey, apiSecret).receive(body, authorization ?? undefined);
      } catch (error) {
        throw new VideoWebhookError(`webhook rejected: ${(error as Error).message}`, { cause: error });
      }
      if (!event.id || !event.event) throw new VideoWebhookError("webhook without id or event");
      return {
        id: event.id,
        event: event.event,
        roomName: event.room?.name || event.egressInfo?.roomName || undefined,
        roomSid: event.room?.sid || undefined,
        participantIdentity: event.participant?.identity || undefined,
        egressId: event.egressInfo?.egressId || undefined,
        egressStatus: event.egressInfo ? s.EgressStatus[event.egressInfo.status] : undefined,
        createdAt: iso(event.createdAt) ?? new Date().toISOString(),
      };
    },
  };
}
