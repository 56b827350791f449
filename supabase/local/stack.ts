/**
 * The embedded stand-in for a Supabase project: the database (PGlite by
 * default, or DATABASE_URL), bootstrap + migrations (+ seed), the functions,
 * Storage, Realtime, and the gateway in front of them. Used by `deno task start` and
 * the tests.
 */
import type { Deps } from "../../shared/app/types.ts";
import { type ApiApp, createApiApp } from "../../shared/api.ts";
import { issueApiKey } from "../../shared/auth/jwt.ts";
import { type Config, loadConfig } from "../../shared/config.ts";
import { createDeps } from "../../shared/deps.ts";
import { createGateway } from "./gateway.ts";
import { prepareDatabase, type PrepareResult } from "./migrate.ts";
import { loadOrCreateSecrets } from "./secrets.ts";
import { createRealtimeServer, type RealtimeOptions, type RealtimeServer } from "./realtime/server.ts";
import { createStorageApi } from "./storage/api.ts";

export interface StackOptions {
  /** Where local data lives (PGlite's folder, secrets). */
  dataDir: string;
  /** The environment the functions would see; missing secrets get local values. */
  env?: Record<string, string | undefined>;
  /** Keep PGlite's data in memory instead of dataDir (tests). */
  inMemory?: boolean;
  seed?: boolean;
  overrides?: Partial<Deps>;
  /**
   * Where the gateway is reached (http://host:port). The functions get it as
   * SUPABASE_URL, with the service_role key as SUPABASE_SERVICE_ROLE_KEY, as
   * Supabase gives its functions (unless the environment names a project).
   */
  publicUrl?: string;
  /** Realtime's limits and timeouts, where the defaults do not suit (tests). */
  realtime?: Partial<Omit<RealtimeOptions, "db" | "jwtSecret">>;
}

export interface Stack {
  config: Config;
  deps: Deps;
  prepared: PrepareResult;
  anonKey: string;
  serviceRoleKey: string;
  api: ApiApp;
  realtime: RealtimeServer;
  handler: ReturnType<typeof createGateway>;
  close(): Promise<void>;
}

export async function createStack(options: StackOptions): Promise<Stack> {
  const env = { ...(options.env ?? Deno.env.toObject()) };
  if (!env.JWT_SECRET) env.JWT_SECRET = (await loadOrCreateSecrets(options.dataDir)).jwtSecret;
  // LiveKit's development values (the `livekit-server --dev` address and key); never contacted here.
  env.LIVEKIT_URL ??= "ws://127.0.0.1:7880";
  env.LIVEKIT_API_KEY ??= "devkey";
  if (!env.LIVEKIT_API_SECRET) {
    env.LIVEKIT_API_SECRET = (await loadOrCreateSecrets(options.dataDir)).livekitApiSecret;
  }
  env.WHATSAPP_SENDER ??= "console";
  if (!env.DATABASE_URL && !env.SUPABASE_DB_URL && !options.inMemory) {
    env.PGLITE_DATA_DIR ??= `${options.dataDir}/pgdata`;
  }

  const secret = loadConfig(env).jwt.secret;
  const serviceRoleKey = await issueApiKey("service_role", secret);
  if (options.publicUrl && !env.SUPABASE_URL) {
    env.SUPABASE_URL = options.publicUrl;
    env.SUPABASE_SERVICE_ROLE_KEY = serviceRoleKey;
  }

  const config = loadConfig(env);
  const deps = await createDeps(config, options.overrides);
  try {
    const prepared = await prepareDatabase(deps.db, { seed: options.seed ?? true });
    const api = createApiApp(deps);
    const storage = await createStorageApi({
      db: deps.db,
      jwtSecret: config.jwt.secret,
      dataDir: options.dataDir,
      logger: deps.logger,
    });
    // The contract's presence TTL is 30 s: a silent client leaves after it.
    const realtime = createRealtimeServer({
      db: deps.db,
      jwtSecret: config.jwt.secret,
      logger: deps.logger.child({ service: "realtime" }),
      heartbeatTimeoutMs: 30_000,
      ...options.realtime,
    });
    await realtime.ready;
    const handler = createGateway({ functions: { api: api.fetch }, storage, realtime: realtime.handle });
    return {
      config,
      deps,
      prepared,
      anonKey: await issueApiKey("anon", config.jwt.secret),
      serviceRoleKey,
      api,
      realtime,
      handler,
      close: async () => {
        await realtime.close();
        await deps.db.close();
      },
    };
  } catch (error) {
    await deps.db.close();
    throw error;
  }
}
