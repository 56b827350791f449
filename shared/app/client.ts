import type { Context } from "hono";

/**
 * The client's address as the nearest proxy saw it: the last entry of
 * X-Forwarded-For (Supabase's gateway, or the local one, appends it; entries
 * before it come from the client and could be forged).
 */
export function clientAddress(c: Context): string {
  const forwarded = c.req.header("X-Forwarded-For");
  return forwarded?.split(",").map((s) => s.trim()).filter(Boolean).at(-1) ?? "unknown";
}
