/**
 * Publishable and secret API keys (`sb_publishable_…`, `sb_secret_…`) as a
 * Supabase project's gateway treats them: they are not JWTs, so before a
 * request reaches Storage or Realtime the gateway checks the key sent in
 * `apikey` (supabase-js also sends it as the bearer token when there is no
 * session) and puts in its place a short-lived JWT of the key's role, anon
 * for a publishable key and service_role for a secret one, signed with the
 * project's current key. A user's own token in `Authorization` is left as
 * it is. An unknown key is 401 "Invalid API key"; a secret key from a
 * browser is refused, as Supabase refuses it (matched on the User-Agent).
 */
import { SignJWT } from "jose";
import { type JwtSettings, signWithCurrentKey } from "../../shared/auth/jwt.ts";

export interface ApiKeys {
  publishable: string;
  secret: string;
}

type KeyRole = "anon" | "service_role";

/** How long the JWT given for a key lives: an HTTP request's, and a socket's (Realtime caps public ones at 24 h). */
const REQUEST_TOKEN_SECONDS = 60 * 60;
export const SOCKET_TOKEN_SECONDS = 24 * 60 * 60;

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

export interface ApiKeyExchange {
  /** The role of one of the project's keys, or undefined. */
  roleOf(key: string): KeyRole | undefined;
  /** The JWT the gateway gives in place of this key, or undefined if it is not one of the project's. */
  exchange(key: string, lifetimeSeconds?: number): Promise<string | undefined>;
  /** The request as it reaches Storage or Realtime (its key swapped), or the gateway's refusal. */
  forward(request: Request): Promise<Request | Response>;
}

export function createApiKeyExchange(keys: ApiKeys, settings: JwtSettings): ApiKeyExchange {
  const issued = new Map<KeyRole, { token: string; exp: number }>();

  const roleOf = (key: string): KeyRole | undefined =>
    key === keys.publishable ? "anon" : key === keys.secret ? "service_role" : undefined;

  async function tokenFor(role: KeyRole, lifetimeSeconds: number): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const cached = lifetimeSeconds === REQUEST_TOKEN_SECONDS ? issued.get(role) : undefined;
    if (cached && cached.exp - now > 5 * 60) return cached.token;
    const exp = now + lifetimeSeconds;
    const token = await signWithCurrentKey(
      settings,
      new SignJWT({ role }).setIssuer("supabase").setIssuedAt(now).setExpirationTime(exp),
    );
    if (lifetimeSeconds === REQUEST_TOKEN_SECONDS) issued.set(role, { token, exp });
    return token;
  }

  async function exchange(key: string, lifetimeSeconds = REQUEST_TOKEN_SECONDS) {
    const role = roleOf(key);
    return role ? await tokenFor(role, lifetimeSeconds) : undefined;
  }

  return {
    roleOf,
    exchange,
    async forward(request) {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("authorization") ?? "")?.[1];
      const key = request.headers.get("apikey") ?? (bearer?.startsWith("sb_") ? bearer : undefined);
      if (!key?.startsWith("sb_")) return request;
      const role = roleOf(key);
      if (!role) {
        return json(401, { message: "Invalid API key", hint: "Double check your Supabase API key." });
      }
      if (role === "service_role" && /Mozilla\//.test(request.headers.get("user-agent") ?? "")) {
        return json(401, {
          message: "Forbidden use of secret API key in browser",
          hint:
            "Secret API keys can only be used in a protected environment and should never be used in a browser.",
        });
      }
      const token = await tokenFor(role, REQUEST_TOKEN_SECONDS);
      const headers = new Headers(request.headers);
      headers.set("apikey", token);
      if (!bearer || bearer === key) headers.set("authorization", `Bearer ${token}`);
      return new Request(request.url, {
        method: request.method,
        headers,
        body: request.body,
        signal: request.signal,
      });
    },
  };
}
