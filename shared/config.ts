/**
 * Configuration, parsed once from the environment with zod. A missing or
 * malformed secret stops start-up with a message naming it.
 */
import { z } from "zod";
import type { OutsideSettings } from "./app/outside.ts";

const flag = (fallback: boolean) =>
  z.enum(["true", "false", "1", "0"]).optional().transform((v) =>
    v === undefined ? fallback : v === "true" || v === "1"
  );

const ConfigSchema = z.object({
  JWT_SECRET: z.string({ error: "is required: the project's JWT secret (HS256)" })
    .min(32, "must be at least 32 characters"),
  JWT_ISSUER: z.string().min(1).default("consultorio"),
  SUPABASE_DB_URL: z.string().min(1).optional(),
  DATABASE_URL: z.string().min(1).optional(),
  PGLITE_DATA_DIR: z.string().min(1).optional(),
  CORS_ORIGINS: z.string().default("*"),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  WHATSAPP_SENDER: z.enum(["console", "twilio"]).default("twilio"),
  TWILIO_ACCOUNT_SID: z.string().min(1).optional(),
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  TWILIO_WHATSAPP_FROM: z.string().min(1).optional(),
  TWILIO_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: "must be the exact http(s) URL Twilio calls" })
    .optional(),
  TWILIO_API_URL: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
  OPENAI_MODEL: z.string().min(1).default("gpt-4o-mini"),
  SUPABASE_URL: z.url({ protocol: /^https?$/, error: "must be the project's http(s) URL" }).optional(),
  SUPABASE_SERVICE_ROLE_KEY: z.string().min(1).optional(),
  LIVEKIT_URL: z.url({ protocol: /^(wss?|https?)$/, error: "must be the LiveKit server's ws(s) URL" })
    .optional(),
  LIVEKIT_API_KEY: z.string().min(1).optional(),
  LIVEKIT_API_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
}).superRefine((env, ctx) => {
  if (env.WHATSAPP_SENDER === "twilio") {
    for (const key of ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM"] as const) {
      if (!env[key]) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message:
            "is required when WHATSAPP_SENDER=twilio (set WHATSAPP_SENDER=console to print messages instead)",
        });
      }
    }
  }
});

export interface Config {
  jwt: { secret: string; issuer: string };
  database: {
    url?: string;
    pgliteDataDir?: string;
    poolSize: number;
    prepare: boolean;
    /** Seconds postgres.js waits for a new connection before giving up (the request answers 503). */
    connectTimeoutSeconds: number;
    /** How long a request waits for a free pooled connection before it answers 503. */
    poolWaitMs: number;
  };
  corsOrigins: "*" | string[];
  logLevel: "debug" | "info" | "warn" | "error";
  whatsapp:
    | { sender: "console" }
    | {
      sender: "twilio";
      accountSid: string;
      authToken: string;
      from: string;
      /** Where the SDK sends its requests instead of https://api.twilio.com (the local stand-in). */
      apiUrl?: string;
      /** Twilio's status callbacks for the messages sent: the webhook URL + /status. */
      statusCallbackUrl?: string;
    };
  /**
   * The Twilio webhook: the auth token that signs it and the exact public URL
   * Twilio calls (a function sees another URL behind Supabase's gateway).
   * Without the token, the webhook refuses every request.
   */
  twilioWebhook: { authToken?: string; url?: string };
  /** The assistant's model (official openai SDK); without a key the assistant apologises. */
  openai: { apiKey?: string; baseUrl?: string; model: string };
  /** The Supabase project's URL and service_role key (Storage); unset, Storage refuses when used. */
  supabase: { url?: string; serviceRoleKey?: string };
  /** LiveKit (video): where clients connect and the key that signs their tokens; unset, tokens are refused. */
  livekit: { url?: string; apiKey?: string; apiSecret?: string };
  /** Timeouts and circuit breakers of the calls to LiveKit, Storage, Twilio and OpenAI. */
  outside: OutsideSettings;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadConfig(env: Record<string, string | undefined> = Deno.env.toObject()): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  - ${i.path.join(".")} ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  return {
    jwt: { secret: e.JWT_SECRET, issuer: e.JWT_ISSUER },
    database: {
      url: e.SUPABASE_DB_URL ?? e.DATABASE_URL,
      pgliteDataDir: e.PGLITE_DATA_DIR,
      ...databaseFaultSettings(e.SUPABASE_DB_URL ?? e.DATABASE_URL, env),
    },
    corsOrigins: e.CORS_ORIGINS.trim() === "*"
      ? "*"
      : e.CORS_ORIGINS.split(",").map((o) => o.trim()).filter(Boolean),
    logLevel: e.LOG_LEVEL,
    whatsapp: e.WHATSAPP_SENDER === "console" ? { sender: "console" } : {
      sender: "twilio",
      accountSid: e.TWILIO_ACCOUNT_SID!,
      authToken: e.TWILIO_AUTH_TOKEN!,
      from: e.TWILIO_WHATSAPP_FROM!,
      apiUrl: e.TWILIO_API_URL,
      statusCallbackUrl: e.TWILIO_WEBHOOK_URL
        ? `${e.TWILIO_WEBHOOK_URL.replace(/\/+$/, "")}/status`
        : undefined,
    },
    twilioWebhook: { authToken: e.TWILIO_AUTH_TOKEN, url: e.TWILIO_WEBHOOK_URL },
    openai: { apiKey: e.OPENAI_API_KEY, baseUrl: e.OPENAI_BASE_URL, model: e.OPENAI_MODEL },
    supabase: { url: e.SUPABASE_URL, serviceRoleKey: e.SUPABASE_SERVICE_ROLE_KEY },
    livekit: { url: e.LIVEKIT_URL, apiKey: e.LIVEKIT_API_KEY, apiSecret: e.LIVEKIT_API_SECRET },
    outside: outsideSettings(env),
  };
}

// ---------------------------------------------------------------------------
// Faults: the database's pool and timeouts, the outside services' timeouts and breakers
// ---------------------------------------------------------------------------

const ms = (fallback: number) => z.coerce.number().int().min(1).max(600_000).default(fallback);

const FaultSchema = z.object({
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(100).optional(),
  DB_PREPARE: flag(true),
  DB_CONNECT_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(60).default(5),
  DB_POOL_WAIT_MS: ms(3_000),
  LIVEKIT_TIMEOUT_MS: ms(5_000),
  STORAGE_TIMEOUT_MS: ms(10_000),
  TWILIO_TIMEOUT_MS: ms(15_000),
  OPENAI_TIMEOUT_MS: ms(60_000),
  BREAKER_FAILURES: z.coerce.number().int().min(1).max(1000).default(5),
  BREAKER_COOLDOWN_MS: ms(30_000),
});

function parseFaults(env: Record<string, string | undefined>) {
  const parsed = FaultSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  - ${i.path.join(".")} ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

/**
 * Supabase's pooler (Supavisor) in transaction mode listens on 6543; a
 * `pgbouncer=true` in the URL says the same of any transaction-mode pooler.
 * A connection there is another backend at every transaction, so prepared
 * statements are off unless DB_PREPARE says otherwise, and a function
 * instance keeps a small pool: the pooler, not the instance, multiplexes.
 */
export function behindTransactionPooler(url: string | undefined): boolean {
  if (!url) return false;
  try {
    const parsed = new URL(url);
    return parsed.port === "6543" || parsed.searchParams.get("pgbouncer") === "true";
  } catch {
    return false;
  }
}

function databaseFaultSettings(url: string | undefined, env: Record<string, string | undefined>) {
  const f = parseFaults(env);
  const pooled = behindTransactionPooler(url);
  return {
    poolSize: f.DB_POOL_SIZE ?? (pooled ? 5 : 10),
    prepare: env.DB_PREPARE === undefined ? !pooled : f.DB_PREPARE,
    connectTimeoutSeconds: f.DB_CONNECT_TIMEOUT_SECONDS,
    poolWaitMs: f.DB_POOL_WAIT_MS,
  };
}

function outsideSettings(env: Record<string, string | undefined>): OutsideSettings {
  const f = parseFaults(env);
  return {
    timeoutMs: {
      livekit: f.LIVEKIT_TIMEOUT_MS,
      storage: f.STORAGE_TIMEOUT_MS,
      twilio: f.TWILIO_TIMEOUT_MS,
      openai: f.OPENAI_TIMEOUT_MS,
    },
    breakerFailures: f.BREAKER_FAILURES,
    breakerCooldownMs: f.BREAKER_COOLDOWN_MS,
  };
}
