import type { Context } from "hono";
import { VideoAdapterError, VideoNotFoundError } from "../adapters/livekit/livekit.ts";
import { StorageAdapterError, StorageObjectMissing } from "../adapters/storage/storage.ts";
import { ApiError, notFound } from "./problem.ts";
import type { AppBindings } from "./types.ts";

/**
 * Runs a call to Storage or LiveKit. With `missing`, what the service does not
 * have (a Storage object, a LiveKit room or participant) is the caller's 404
 * RES_001 saying so; any other failure is 503 SRV_002 to retry, logged
 * without the caller's data.
 */
export async function outside<T>(
  c: Context<AppBindings>,
  what: string,
  fn: () => Promise<T>,
  missing?: string,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (
      missing !== undefined && (error instanceof StorageObjectMissing || error instanceof VideoNotFoundError)
    ) {
      throw notFound(missing);
    }
    if (error instanceof StorageAdapterError || error instanceof VideoAdapterError) {
      c.var.log.error(`${what} failed`, { error: error.message });
      throw new ApiError("SRV_002", "El servicio no está disponible, vuelve a intentarlo", {
        headers: { "Retry-After": "5" },
        cause: error,
      });
    }
    throw error;
  }
}
