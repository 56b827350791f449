/**
 * VideoAdapter over LiveKit with the official livekit-server-sdk (loaded on
 * first use). Grants by role: the doctor publishes camera, microphone and
 * screen share and administers the room; the patient publishes camera and
 * microphone only. Both subscribe.
 */
import type { VideoAdapter, VideoTokenRequest } from "./livekit.ts";
import { VideoAdapterError } from "./livekit.ts";

export interface LiveKitSettings {
  url?: string;
  apiKey?: string;
  apiSecret?: string;
}

export function createLiveKitAdapter(settings: LiveKitSettings): VideoAdapter {
  return {
    async issueToken(request: VideoTokenRequest) {
      const { url, apiKey, apiSecret } = settings;
      if (!url || !apiKey || !apiSecret) {
        throw new VideoAdapterError(
          "Video is not configured: set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET",
        );
      }
      const { AccessToken, TrackSource } = await import("livekit-server-sdk");
      const doctor = request.role === "doctor";
      const token = new AccessToken(apiKey, apiSecret, {
        identity: request.identity,
        ttl: request.ttlSeconds,
        metadata: JSON.stringify({ role: request.role }),
      });
      token.addGrant({
        roomJoin: true,
        room: request.roomName,
        canPublish: true,
        canPublishSources: doctor
          ? [TrackSource.CAMERA, TrackSource.MICROPHONE, TrackSource.SCREEN_SHARE]
          : [TrackSource.CAMERA, TrackSource.MICROPHONE],
        canSubscribe: true,
        canPublishData: true,
        roomAdmin: doctor,
      });
      return { token: await token.toJwt(), url };
    },
  };
}
