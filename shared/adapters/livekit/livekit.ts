/**
 * Video tokens, as the modules see them. The modules decide who may join
 * which room (in the database, as the caller) before they call this; the
 * adapter only signs. LiveKit itself is never contacted: a token is a JWT
 * signed locally with the API secret.
 */
export type VideoRole = "doctor" | "patient";

export interface VideoTokenRequest {
  roomName: string;
  /** The participant's identity: the user id. */
  identity: string;
  role: VideoRole;
  /** Seconds the token is valid for joining. */
  ttlSeconds: number;
}

export interface VideoAdapter {
  /** A signed access token for `roomName` with the grants of `role`, and the URL clients connect to. */
  issueToken(request: VideoTokenRequest): Promise<{ token: string; url: string }>;
}

/** Video is not configured (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET). */
export class VideoAdapterError extends Error {
  override name = "VideoAdapterError";
}
