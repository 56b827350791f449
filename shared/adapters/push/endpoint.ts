// Kept apart from web-push.ts so that the api function validates endpoints without loading the web-push package.
import type { PushConfig } from "../../config.ts";

/**
 * Whether an endpoint may be posted to: https (as every browser's push
 * service is), or the configured local stand-in's origin. The push function
 * calls it, so a user cannot make it call their own internal address.
 */
export function endpointAllowed(endpoint: string, config: PushConfig): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  if (config.localOrigin && url.origin === config.localOrigin) return true;
  if (url.protocol !== "https:") return false;
  const host = url.hostname;
  // Push services have DNS names; an address or a local name is no push service.
  return !/^\[|^\d+\.\d+\.\d+\.\d+$|^localhost$|\.local(host)?$|\.internal$/i.test(host) &&
    host.includes(".");
}
