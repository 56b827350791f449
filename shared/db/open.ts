import { ConfigError } from "../config.ts";
import type { Database } from "./database.ts";
import { createPostgresDatabase } from "./postgres.ts";

export interface DatabaseSettings {
  /** The server's URL: SUPABASE_DB_URL on Supabase (DATABASE_URL elsewhere). */
  url?: string;
  poolSize?: number;
  prepare?: boolean;
  connectTimeoutSeconds?: number;
  poolWaitMs?: number;
}

/**
 * postgres.js on the given URL. A deployed function has no other database:
 * without a URL it refuses to start rather than open an empty one. The local
 * stack opens its embedded PGlite itself (supabase/local/pglite.ts) and hands
 * it to createDeps, so no function's import graph holds PGlite.
 */
export function openDatabase(settings: DatabaseSettings): Promise<Database> {
  if (!settings.url) {
    return Promise.reject(
      new ConfigError(
        "Invalid configuration:\n  - SUPABASE_DB_URL is required: the project's database " +
          "(Supabase gives it to every Edge Function; DATABASE_URL is read too)",
      ),
    );
  }
  return Promise.resolve(
    createPostgresDatabase({
      url: settings.url,
      poolSize: settings.poolSize,
      prepare: settings.prepare,
      connectTimeoutSeconds: settings.connectTimeoutSeconds,
      poolWaitMs: settings.poolWaitMs,
    }),
  );
}
