/** Builds what the functions need from configuration: the database, the senders, Storage, video, the assistant's model, the logger. */
import type { Deps } from "./app/types.ts";
import { createLogger } from "./app/logger.ts";
import { createConsoleWhatsAppSender } from "./adapters/whatsapp/console.ts";
import { createTwilioWhatsAppSender } from "./adapters/whatsapp/twilio.ts";
import { createSupabaseStorageAdapter } from "./adapters/storage/supabase.ts";
import { createLiveKitAdapter } from "./adapters/livekit/server-sdk.ts";
import { createOpenAIChatModel } from "./adapters/openai/openai.ts";
import { withDailyBudget } from "./modules/openai/openai.privileged.ts";
import { RATE_LIMITS } from "./auth/rate-limits.ts";
import { setArgon2Thread } from "./auth/argon2-mode.ts";
import { keyRingOf } from "./auth/jwt.ts";
import { type Config, ConfigError } from "./config.ts";
import type { Database } from "./db/database.ts";
import { openDatabase } from "./db/open.ts";

export async function createDeps(config: Config, overrides: Partial<Deps> = {}): Promise<Deps> {
  // A key that does not import stops start-up, not the first login.
  await keyRingOf(config.jwt).catch((error) => {
    throw new ConfigError(`Invalid configuration:\n  - JWT_SIGNING_KEYS ${error.message}`);
  });
  const db: Database = overrides.db ?? await openDatabase(config.database);
  // One hashing mode per process (the worker thread is the process's own).
  setArgon2Thread(config.argon2Thread);
  return {
    config,
    db,
    logger: overrides.logger ?? createLogger(config.logLevel),
    whatsapp: overrides.whatsapp ??
      (config.whatsapp.sender === "console"
        ? createConsoleWhatsAppSender()
        : createTwilioWhatsAppSender(config.whatsapp)),
    storage: overrides.storage ?? createSupabaseStorageAdapter(config.supabase),
    video: overrides.video ?? createLiveKitAdapter(config.livekit),
    assistantModel: withDailyBudget(
      overrides.assistantModel ?? createOpenAIChatModel(config.openai),
      db,
      config.costLimits.modelCallsPerDay,
    ),
    rateLimits: overrides.rateLimits ?? RATE_LIMITS,
    clock: overrides.clock,
  };
}
