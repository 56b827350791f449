/**
 * The embedded stand-in for a Supabase project: the database (PGlite by
 * default, or DATABASE_URL), bootstrap + migrations (+ seed), the functions
 * and the gateway in front of them. Used by `deno task start` and the tests.
 */
import type { Deps } from "../../shared/app/types.ts";
import { type ApiApp, createApiApp } from "../../shared/api.ts";
import { issueApiKey } from "../../shared/auth/jwt.ts";
import { type Config, loadConfig } from "../../shared/config.ts";
import { createDeps } from "../../shared/deps.ts";
import { createGateway } from "./gateway.ts";
import { prepareDatabase, type PrepareResult } from "./migrate.ts";
import { loadOrCreateSecrets } from "./secrets.ts";

export interface StackOptions {
  /** Where local data lives (PGlite's folder, secrets). */
  dataDir: string;
  /** The environment the functions would see; missing secrets get local values. */
  env?: Record<string, string | undefined>;
  /** Keep PGlite's data in memory instead of dataDir (tests). */
  inMemory?: boolean;
  seed?: boolean;
  overrides?: Partial<Deps>;
}

export interface Stack {
  config: Config;
  deps: Deps;
  prepared: PrepareResult;
  anonKey: string;
  serviceRoleKey: string;
  api: ApiApp;
  handler: ReturnType<typeof createGateway>;
  close(): Promise<void>;
}

export async function createStack(options: StackOptions): Promise<Stack> {
  const env = { ...(options.env ?? Deno.env.toObject()) };
  if (!env.JWT_SECRET) env.JWT_SECRET = (await loadOrCreateSecrets(options.dataDir)).jwtSecret;
  env.WHATSAPP_SENDER ??= "console";
  if (!env.DATABASE_URL && !env.SUPABASE_DB_URL && !options.inMemory) {
    env.PGLITE_DATA_DIR ??= `${options.dataDir}/pgdata`;
  }

  const config = loadConfig(env);
  const deps = await createDeps(config, options.overrides);
  try {
    const prepared = await prepareDatabase(deps.db, { seed: options.seed ?? true });
    const api = createApiApp(deps);
    const handler = createGateway({ functions: { api: api.fetch } });
    return {
      config,
      deps,
      prepared,
      anonKey: await issueApiKey("anon", config.jwt.secret),
      serviceRoleKey: await issueApiKey("service_role", config.jwt.secret),
      api,
      handler,
      close: () => deps.db.close(),
    };
  } catch (error) {
    await deps.db.close();
    throw error;
  }
}
