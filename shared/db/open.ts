import type { Database } from "./database.ts";
import { createPostgresDatabase } from "./postgres.ts";

export interface DatabaseSettings {
  /** A server URL; without one, PGlite runs in-process. */
  url?: string;
  /** PGlite's data folder; without one, PGlite keeps its data in memory. */
  pgliteDataDir?: string;
  poolSize?: number;
  prepare?: boolean;
  connectTimeoutSeconds?: number;
  poolWaitMs?: number;
}

/** postgres.js when a URL is given, PGlite otherwise (loaded only then). */
export async function openDatabase(settings: DatabaseSettings): Promise<Database> {
  if (settings.url) {
    return createPostgresDatabase({
      url: settings.url,
      poolSize: settings.poolSize,
      prepare: settings.prepare,
      connectTimeoutSeconds: settings.connectTimeoutSeconds,
      poolWaitMs: settings.poolWaitMs,
    });
  }
  const { createPGliteDatabase } = await import("./pglite.ts");
  return await createPGliteDatabase(settings.pgliteDataDir);
}
