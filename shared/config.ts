/**
 * Configuration, parsed once from the environment with zod. A missing or
 * malformed secret stops start-up with a message naming it.
 */
import { z } from "zod";
import { MAX_PLATFORM_TOKEN_TTL_SECONDS } from "./auth/platform-token.ts";

const flag = (fallback: boolean) =>
  z.enum(["true", "false", "1", "0"]).optional().transform((v) =>
    v === undefined ? fallback : v === "true" || v === "1"
  );

const ConfigSchema = z.object({
  JWT_SECRET: z.string({ error: "is required: the project's JWT secret (HS256)" })
    .min(32, "must be at least 32 characters"),
  JWT_ISSUER: z.string().min(1).default("consultorio"),
  REALTIME_TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).max(MAX_PLATFORM_TOKEN_TTL_SECONDS).default(300),
  SUPABASE_DB_URL: z.string().min(1).optional(),
  DATABASE_URL: z.string().min(1).optional(),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
  DB_PREPARE: flag(true),
  CORS_ORIGINS: z.string().default("*"),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  ARGON2_THREAD: z.enum(["on", "off"], { error: "must be on or off" }).default("on"),
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
  /** Lifetime of the platform tokens for Realtime and Storage (POST /v1/auth/realtime-token). */
  realtimeTokenTtlSeconds: number;
  database: { url?: string; poolSize: number; prepare: boolean };
  corsOrigins: "*" | string[];
  logLevel: "debug" | "info" | "warn" | "error";
  /** Hash passwords on a worker thread (off: on the request's thread, as on Supabase's Edge Runtime, which has none). */
  argon2Thread: boolean;
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
    realtimeTokenTtlSeconds: e.REALTIME_TOKEN_TTL_SECONDS,
    database: {
      url: e.SUPABASE_DB_URL ?? e.DATABASE_URL,
      poolSize: e.DB_POOL_SIZE,
      prepare: e.DB_PREPARE,
    },
    corsOrigins: e.CORS_ORIGINS.trim() === "*"
      ? "*"
      : e.CORS_ORIGINS.split(",").map((o) => o.trim()).filter(Boolean),
    logLevel: e.LOG_LEVEL,
    argon2Thread: e.ARGON2_THREAD === "on",
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
  };
}
