/**
 * Server A, "secured": the real product stack (gateway, api function, JWT
 * verification, session check, zod validation, a transaction as the caller
 * under row-level security, the envelope) on a free port of 127.0.0.1.
 */
import { createLogger } from "../shared/app/logger.ts";
import { RATE_LIMITS, type RateLimits } from "../shared/auth/rate-limits.ts";
import { createStack, type Stack } from "../supabase/local/stack.ts";

/** Limits no bench run reaches (it signs in once per server). */
const GENEROUS_LIMITS = Object.fromEntries(
  Object.entries(RATE_LIMITS).map(([name, limit]) => [name, { ...limit, max: 1_000_000 }]),
) as unknown as RateLimits;

export interface SecuredServer {
  stack: Stack;
  origin: string;
  /** The URL of a path of the api function, e.g. api("/v1/appointments"). */
  api(path: string): string;
  /** The measured request's URL. */
  userUrl(id: string): string;
  /** Signs in through POST /v1/auth/login; returns the access token. */
  login(phone: string, password: string): Promise<string>;
  close(): Promise<void>;
}

export async function startSecuredServer(databaseUrl: string, jwtSecret: string): Promise<SecuredServer> {
  const dataDir = await Deno.makeTempDir({ prefix: "consultorio-bench-" });
  let stack: Stack;
  try {
    stack = await createStack({
      dataDir,
      env: { DATABASE_URL: databaseUrl, JWT_SECRET: jwtSecret, WHATSAPP_SENDER: "console" },
      seed: false,
      overrides: { logger: createLogger("error", () => {}), rateLimits: GENEROUS_LIMITS },
    });
  } catch (error) {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    throw error;
  }
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, stack.handler);
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const api = (path: string) => `${origin}/functions/v1/api${path}`;

  return {
    stack,
    origin,
    api,
    userUrl: (id) => api(`/v1/user/${id}`),
    async login(phone, password) {
      const res = await fetch(api("/v1/auth/login"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ phone, password }),
      });
      const body = await res.json();
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(body)}`);
      return body.data.accessToken;
    },
    async close() {
      await server.shutdown();
      await stack.close();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}
