/**
 * Configuration, parsed once from the environment with zod. A missing or
 * malformed secret stops start-up with a message naming it.
 */
import { z } from "zod";
import type { OutsideSettings } from "./app/outside.ts";
import { algorithmOf, type JwtSettings, type PrivateJwk } from "./auth/jwt.ts";
import type { Limit } from "./auth/rate-limits.ts";
import { MAX_PLATFORM_TOKEN_TTL_SECONDS } from "./auth/platform-token.ts";

const flag = (fallback: boolean) =>
  z.enum(["true", "false", "1", "0"]).optional().transform((v) =>
    v === undefined ? fallback : v === "true" || v === "1"
  );

/**
 * JWT_SIGNING_KEYS: private JWKs, as `supabase gen signing-key` prints them:
 * one, a JSON array (the CLI's signing_keys.json) or a JWK set `{ "keys": [...] }`.
 */
const SigningKeys = z.string().transform((text, ctx): PrivateJwk[] => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    ctx.addIssue({
      code: "custom",
      message: "must be JSON: a private JWK, an array of them, or { keys: [...] }",
    });
    return z.NEVER;
  }
  const object = parsed as { keys?: unknown; kty?: unknown } | null;
  const list = Array.isArray(parsed) ? parsed : object?.kty ? [parsed] : object?.keys;
  if (!Array.isArray(list) || list.length === 0) {
    ctx.addIssue({ code: "custom", message: "must hold at least one private JWK (the first signs)" });
    return z.NEVER;
  }
  const kids = new Set<string>();
  return list.map((jwk, i) => {
    const alg = typeof jwk === "object" && jwk ? algorithmOf(jwk) : undefined;
    const problem = !alg
      ? "is not an ES256 (EC P-256) or RS256 (RSA) key"
      : typeof jwk.kid !== "string" || !jwk.kid
      ? "has no kid (the id Supabase advertises in the project's JWKS)"
      : typeof jwk.d !== "string"
      ? "has no private part (d): import the private JWK"
      : kids.has(jwk.kid)
      ? "repeats the kid of another key"
      : undefined;
    if (problem) ctx.addIssue({ code: "custom", path: [i], message: `key ${i} ${problem}` });
    kids.add(jwk?.kid);
    return { ...jwk, alg } as PrivateJwk;
  });
});

/** A JSON object of named API keys, as Supabase gives functions SUPABASE_SECRET_KEYS. */
const NamedKeys = z.string().transform((text, ctx): Record<string, string> => {
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      return Object.fromEntries(Object.entries(parsed).filter(([, v]) => typeof v === "string")) as Record<
        string,
        string
      >;
    }
  } catch { /* reported below */ }
  ctx.addIssue({
    code: "custom",
    message: 'must be a JSON object of named keys, e.g. {"default":"sb_secret_..."}',
  });
  return z.NEVER;
});

const ConfigSchema = z.object({
  JWT_SIGNING_KEYS: SigningKeys.optional(),
  JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  JWT_ISSUER: z.string().min(1).default("consultorio"),
  REALTIME_TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).max(MAX_PLATFORM_TOKEN_TTL_SECONDS).default(300),
  SUPABASE_DB_URL: z.string().min(1).optional(),
  DATABASE_URL: z.string().min(1).optional(),
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
  SUPABASE_SECRET_KEY: z.string().startsWith("sb_secret_", "must be a secret key (sb_secret_...)").optional(),
  SUPABASE_SECRET_KEYS: NamedKeys.optional(),
  LIVEKIT_URL: z.url({ protocol: /^(wss?|https?)$/, error: "must be the LiveKit server's ws(s) URL" })
    .optional(),
  LIVEKIT_API_KEY: z.string().min(1).optional(),
  LIVEKIT_API_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
}).superRefine((env, ctx) => {
  if (!env.JWT_SIGNING_KEYS && !env.JWT_SECRET) {
    ctx.addIssue({
      code: "custom",
      path: ["JWT_SIGNING_KEYS"],
      message: "or JWT_SECRET is required: the project's signing key(s) (ES256/RS256 private JWKs), " +
        "or its legacy JWT secret (HS256)",
    });
  }
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
  /** Web Push (VAPID): off without its keys. */
  push: PushConfig;
  /** Access tokens: the signing key set (first signs) and/or the legacy HS256 secret. */
  jwt: JwtSettings;
  /**
   * Keys the one-time reset codes' HMAC: the JWT secret, or else one derived
   * from the current signing key (a rotation voids the codes pending, 10 minutes at most).
   */
  otpSecret: string;
  /** Lifetime of the platform tokens for Realtime and Storage (POST /v1/auth/realtime-token). */
  realtimeTokenTtlSeconds: number;
  database: {
    url?: string;
    poolSize: number;
    prepare: boolean;
    /** Seconds postgres.js waits for a new connection before giving up (the request answers 503). */
    connectTimeoutSeconds: number;
    /** How long a request waits for a free pooled connection before it answers 503. */
    poolWaitMs: number;
  };
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
  /**
   * The Supabase project's URL and the key the functions' supabase-js uses
   * (a secret key, else the legacy service_role key); unset, Storage refuses
   * when used. `secretKeys`: every secret key of the project (the reminders'
   * callers).
   */
  supabase: { url?: string; secretKey?: string; secretKeys: string[] };
  /** LiveKit (video): where clients connect and the key that signs their tokens; unset, tokens are refused. */
  livekit: { url?: string; apiKey?: string; apiSecret?: string };
  /** Timeouts and circuit breakers of the calls to LiveKit, Storage, Twilio and OpenAI. */
  outside: OutsideSettings;
  /** Limits of the endpoints that cost the clinic money, counted in the database. */
  costLimits: CostLimits;
}

// --- Limits of the costly endpoints (OpenAI, WhatsApp sends): "<max>/<seconds>" ---
const windowLimit = (fallback: string) =>
  z.string().regex(/^\d+\/\d+$/, 'must be "<max>/<seconds>", e.g. "20/600"').default(fallback)
    .transform((v) => {
      const [max, windowSeconds] = v.split("/").map(Number);
      return { max, windowSeconds };
    }).refine((l) => l.max >= 1 && l.windowSeconds >= 1, "must allow at least 1 in a window of at least 1 s");

const CostLimitsSchema = z.object({
  OPENAI_USER_RATE_LIMIT: windowLimit("20/600"),
  OPENAI_DAILY_BUDGET: z.coerce.number().int().min(0).default(2000),
  WHATSAPP_SEND_USER_RATE_LIMIT: windowLimit("60/3600"),
  WHATSAPP_SEND_RECIPIENT_RATE_LIMIT: windowLimit("10/3600"),
});

export interface CostLimits {
  /** Messages to the assistant through POST /v1/openai/message, per user. */
  assistantPerUser: Limit;
  /** Model calls (every OpenAI call, the WhatsApp assistant's too) per clinic day, in its time zone. */
  modelCallsPerDay: number;
  /** POST /v1/twilio/whatsapp/send, per sender and per recipient. */
  whatsappSendPerUser: Limit;
  whatsappSendPerRecipient: Limit;
}

function supabaseOf(
  e: { SUPABASE_URL?: string; SUPABASE_SERVICE_ROLE_KEY?: string; SUPABASE_SECRET_KEY?: string } & {
    SUPABASE_SECRET_KEYS?: Record<string, string>;
  },
): Config["supabase"] {
  const named = e.SUPABASE_SECRET_KEYS ?? {};
  const secretKeys = [...new Set([e.SUPABASE_SECRET_KEY, ...Object.values(named)])]
    .filter((k): k is string => !!k?.startsWith("sb_secret_"));
  return {
    url: e.SUPABASE_URL,
    secretKey: e.SUPABASE_SECRET_KEY ?? named.default ?? secretKeys[0] ?? e.SUPABASE_SERVICE_ROLE_KEY,
    secretKeys,
  };
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadConfig(env: Record<string, string | undefined> = Deno.env.toObject()): Config {
  const parsed = ConfigSchema.safeParse(env);
  const costs = CostLimitsSchema.safeParse(env);
  if (!parsed.success || !costs.success) {
    const issues = [...(parsed.error?.issues ?? []), ...(costs.error?.issues ?? [])];
    const lines = issues.map((i) => `  - ${i.path.join(".")} ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  const k = costs.data;
  return {
    jwt: { issuer: e.JWT_ISSUER, signingKeys: e.JWT_SIGNING_KEYS ?? [], secret: e.JWT_SECRET },
    otpSecret: e.JWT_SECRET ?? `otp:${e.JWT_SIGNING_KEYS![0].kid}:${e.JWT_SIGNING_KEYS![0].d}`,
    realtimeTokenTtlSeconds: e.REALTIME_TOKEN_TTL_SECONDS,
    database: {
      url: e.SUPABASE_DB_URL ?? e.DATABASE_URL,
      ...databaseFaultSettings(e.SUPABASE_DB_URL ?? e.DATABASE_URL, env),
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
    supabase: supabaseOf(e),
    push: pushOf(env),
    livekit: { url: e.LIVEKIT_URL, apiKey: e.LIVEKIT_API_KEY, apiSecret: e.LIVEKIT_API_SECRET },
    outside: outsideSettings(env),
    costLimits: {
      assistantPerUser: k.OPENAI_USER_RATE_LIMIT,
      modelCallsPerDay: k.OPENAI_DAILY_BUDGET,
      whatsappSendPerUser: k.WHATSAPP_SEND_USER_RATE_LIMIT,
      whatsappSendPerRecipient: k.WHATSAPP_SEND_RECIPIENT_RATE_LIMIT,
    },
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

// -----------------------------------------------------------------------------
// Web Push
// -----------------------------------------------------------------------------

export interface PushConfig {
  /** The VAPID key pair and contact the push services see; undefined: push is off. */
  vapid?: { publicKey: string; privateKey: string; subject: string };
  /**
   * An http origin accepted as a subscription endpoint besides https ones:
   * only the local push stand-in (supabase/local/push/). Unset in production.
   */
  localOrigin?: string;
  /** How long one push service call may take. */
  timeoutMs: number;
}

const Base64Url = (bytes: number, what: string) =>
  z.string().regex(new RegExp(`^[A-Za-z0-9_-]{${Math.ceil(bytes * 4 / 3)}}$`), `must be ${what}, base64url`);

/** An empty value is no value: `WEB_PUSH_VAPID_PUBLIC_KEY=` turns push off where a default would fill it. */
const unsetIfEmpty = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => v === "" ? undefined : v, schema);

const PushSchema = z.object({
  WEB_PUSH_VAPID_PUBLIC_KEY: unsetIfEmpty(
    Base64Url(65, "the VAPID public key (65 bytes, uncompressed P-256)").optional(),
  ),
  WEB_PUSH_VAPID_PRIVATE_KEY: unsetIfEmpty(Base64Url(32, "the VAPID private key (32 bytes)").optional()),
  WEB_PUSH_SUBJECT: z.string().regex(/^(mailto:|https:\/\/)\S+$/, "must be a mailto: or https: URL")
    .optional(),
  WEB_PUSH_LOCAL_ORIGIN: z.url({ protocol: /^http$/, error: "must be an http origin" }).optional(),
  WEB_PUSH_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(5_000),
}).superRefine((env, ctx) => {
  if (!env.WEB_PUSH_VAPID_PUBLIC_KEY !== !env.WEB_PUSH_VAPID_PRIVATE_KEY) {
    ctx.addIssue({
      code: "custom",
      path: ["WEB_PUSH_VAPID_PRIVATE_KEY"],
      message: "comes with WEB_PUSH_VAPID_PUBLIC_KEY",
    });
  }
});

function pushOf(env: Record<string, string | undefined>): PushConfig {
  const parsed = PushSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  - ${i.path.join(".")} ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  return {
    vapid: e.WEB_PUSH_VAPID_PUBLIC_KEY && e.WEB_PUSH_VAPID_PRIVATE_KEY
      ? {
        publicKey: e.WEB_PUSH_VAPID_PUBLIC_KEY,
        privateKey: e.WEB_PUSH_VAPID_PRIVATE_KEY,
        subject: e.WEB_PUSH_SUBJECT ?? "mailto:notificaciones@consultorio.invalid",
      }
      : undefined,
    localOrigin: e.WEB_PUSH_LOCAL_ORIGIN ? new URL(e.WEB_PUSH_LOCAL_ORIGIN).origin : undefined,
    timeoutMs: e.WEB_PUSH_TIMEOUT_MS,
  };
}
