/**
 * The embedded stand-in for a Supabase project: the database (PGlite by
 * default, or DATABASE_URL), bootstrap + migrations (+ seed), the functions,
 * Storage, Realtime, and the gateway in front of them. Used by `deno task start` and
 * the tests.
 */
import type { Deps } from "../../shared/app/types.ts";
import { type ApiApp, createApiApp } from "../../shared/api.ts";
import { issueApiKey, jwksOf } from "../../shared/auth/jwt.ts";
import { type Config, loadConfig } from "../../shared/config.ts";
import { createDeps } from "../../shared/deps.ts";
import { createGateway } from "./gateway.ts";
import { createPGliteDatabase } from "./pglite.ts";
import { prepareDatabase, type PrepareResult } from "./migrate.ts";
import { loadOrCreateSecrets } from "./secrets.ts";
import { createApiKeyExchange, SOCKET_TOKEN_SECONDS } from "./api-keys.ts";
import type { TenantKeys } from "./tenant-keys.ts";
import { createRealtimeServer, type RealtimeOptions, type RealtimeServer } from "./realtime/server.ts";
import { createStorageApi } from "./storage/api.ts";
import { createLiveKitStandIn, type LiveKitStandIn } from "./livekit/server.ts";
import { createLiveKitWebhookApp } from "../../shared/livekit-webhook.ts";
import { createWhatsAppWebhookApp } from "../../shared/whatsapp-webhook.ts";
import { createRemindersApp } from "../../shared/reminders.ts";
import { createPushApp } from "../../shared/push.ts";
import { createOpenAIStandIn, type OpenAIStandIn } from "./openai/server.ts";
import { createTwilioStandIn, type TwilioStandIn } from "./twilio/server.ts";

/** The local stack's Twilio auth token when none is given: it signs and checks the webhook locally only. */
export const LOCAL_TWILIO_AUTH_TOKEN = "local-dev-twilio-auth-token";

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
  realtime?: Partial<Omit<RealtimeOptions, "db" | "tenantKeys" | "exchangeApiKey">>;
}

export interface Stack {
  config: Config;
  deps: Deps;
  prepared: PrepareResult;
  /** The legacy API keys (JWTs of role anon and service_role, signed with the current key). */
  anonKey: string;
  serviceRoleKey: string;
  /** The project's API keys, as `supabase start` prints them. */
  publishableKey: string;
  secretKey: string;
  /** What Storage and Realtime verify tokens with: the legacy secret and the served JWKS. */
  tenantKeys: TenantKeys;
  api: ApiApp;
  realtime: RealtimeServer;
  handler: ReturnType<typeof createGateway>;
  /** The LiveKit stand-in, when LIVEKIT_URL was not given (its webhooks go to livekit-webhook). */
  livekit?: LiveKitStandIn;
  /** The OpenAI stand-in, when OPENAI_BASE_URL was not given (at the gateway's /openai/v1). */
  openai?: OpenAIStandIn;
  /** The Twilio stand-in, when WHATSAPP_SENDER=twilio and TWILIO_API_URL is the gateway (tests). */
  twilio?: TwilioStandIn;
  close(): Promise<void>;
}

export async function createStack(options: StackOptions): Promise<Stack> {
  const env = { ...(options.env ?? Deno.env.toObject()) };
  const local = await loadOrCreateSecrets(options.dataDir);
  // Signing: the environment's key set or legacy secret, else the local
  // project's ES256 key (asymmetric, as a Supabase project is today). The
  // legacy secret stays the project's either way: Storage signs its URLs
  // with it, and Realtime and Storage accept HS256 tokens signed by it.
  if (!env.JWT_SIGNING_KEYS && !env.JWT_SECRET) env.JWT_SIGNING_KEYS = JSON.stringify(local.signingKeys);
  const legacySecret = env.JWT_SECRET ?? local.jwtSecret;
  // LiveKit: unless the environment names a server, the local stand-in
  // (supabase/local/livekit/), served by the gateway at /twirp/*: LIVEKIT_URL
  // is the gateway's own address (the SDK turns ws:// into http:// for its
  // server APIs). Without a public URL, `livekit-server --dev`'s address.
  const livekitStandIn = !env.LIVEKIT_URL;
  env.LIVEKIT_URL ??= options.publicUrl ? options.publicUrl.replace(/^http/, "ws") : "ws://127.0.0.1:7880";
  env.LIVEKIT_API_KEY ??= "devkey";
  env.LIVEKIT_API_SECRET ||= local.livekitApiSecret;
  env.WHATSAPP_SENDER ??= "console";
  // Web Push: the local VAPID pair unless the environment gives one (both empty: push off).
  if (env.WEB_PUSH_VAPID_PUBLIC_KEY === undefined && env.WEB_PUSH_VAPID_PRIVATE_KEY === undefined) {
    env.WEB_PUSH_VAPID_PUBLIC_KEY = local.vapid.publicKey;
    env.WEB_PUSH_VAPID_PRIVATE_KEY = local.vapid.privateKey;
  }
  // WhatsApp's webhook: the URL Twilio would call, through this gateway, and a
  // local auth token to sign it with. The assistant's model: the OpenAI
  // stand-in (supabase/local/openai/) unless the environment names a server.
  env.TWILIO_AUTH_TOKEN ??= LOCAL_TWILIO_AUTH_TOKEN;
  if (options.publicUrl) env.TWILIO_WEBHOOK_URL ??= `${options.publicUrl}/functions/v1/whatsapp-webhook`;
  const openaiStandIn = !env.OPENAI_BASE_URL && !env.OPENAI_API_KEY;
  if (openaiStandIn) {
    env.OPENAI_BASE_URL = `${options.publicUrl ?? "http://127.0.0.1:54321"}/openai/v1`;
    env.OPENAI_API_KEY = "local-stand-in";
  }

  const jwt = loadConfig(env).jwt;
  const serviceRoleKey = await issueApiKey("service_role", jwt);
  const anonKey = await issueApiKey("anon", jwt);
  // What Supabase gives its functions: the URL, the new keys (JSON objects
  // of named keys) and the legacy ones.
  if (options.publicUrl && !env.SUPABASE_URL) {
    env.SUPABASE_URL = options.publicUrl;
    env.SUPABASE_SERVICE_ROLE_KEY = serviceRoleKey;
    env.SUPABASE_ANON_KEY = anonKey;
    env.SUPABASE_PUBLISHABLE_KEYS = JSON.stringify({ default: local.publishableKey });
    env.SUPABASE_SECRET_KEYS = JSON.stringify({ default: local.secretKey });
  }

  const config = loadConfig(env);
  // Without a URL, the embedded PGlite: the stack opens it and hands it in,
  // so that no function imports it (a deployed one refuses to start instead).
  const embedded = config.database.url || options.overrides?.db
    ? undefined
    : await createPGliteDatabase(options.inMemory ? undefined : `${options.dataDir}/pgdata`);
  const deps = await createDeps(config, { ...options.overrides, ...(embedded ? { db: embedded } : {}) });
  try {
    const prepared = await prepareDatabase(deps.db, { seed: options.seed ?? true });
    const api = createApiApp(deps);
    const jwks = jwksOf(config.jwt);
    const tenantKeys: TenantKeys = { secret: legacySecret, jwks };
    const apiKeys = createApiKeyExchange(
      { publishable: local.publishableKey, secret: local.secretKey },
      config.jwt,
    );
    const storage = await createStorageApi({
      db: deps.db,
      tenantKeys,
      dataDir: options.dataDir,
      // Storage's own setting for the lifetime of signed upload URLs.
      uploadUrlExpiresIn: positiveInteger(env.UPLOAD_SIGNED_URL_EXPIRATION_TIME),
      logger: deps.logger,
    });
    // The contract's presence TTL is 30 s: a silent client leaves after it.
    const realtime = createRealtimeServer({
      db: deps.db,
      tenantKeys,
      exchangeApiKey: (key) => apiKeys.exchange(key, SOCKET_TOKEN_SECONDS),
      logger: deps.logger.child({ service: "realtime" }),
      heartbeatTimeoutMs: 30_000,
      ...options.realtime,
    });
    await realtime.ready;
    const webhook = createLiveKitWebhookApp(deps);
    const livekit = livekitStandIn && config.livekit.apiKey && config.livekit.apiSecret
      ? createLiveKitStandIn({
        apiKey: config.livekit.apiKey,
        apiSecret: config.livekit.apiSecret,
        // As LiveKit would POST them to /functions/v1/livekit-webhook.
        deliver: (request) =>
          handler(
            new Request("http://127.0.0.1/functions/v1/livekit-webhook", {
              method: "POST",
              headers: request.headers,
              body: request.body,
            }),
          ),
      })
      : undefined;
    const openai = openaiStandIn ? createOpenAIStandIn() : undefined;
    const whatsapp = config.whatsapp;
    const twilio = whatsapp.sender === "twilio" && options.publicUrl && whatsapp.apiUrl === options.publicUrl
      ? createTwilioStandIn({ accountSid: whatsapp.accountSid, authToken: whatsapp.authToken })
      : undefined;
    const handler = createGateway({
      functions: {
        api: api.fetch,
        "livekit-webhook": webhook.fetch,
        "whatsapp-webhook": createWhatsAppWebhookApp(deps).fetch,
        reminders: createRemindersApp(deps).fetch,
        push: createPushApp(deps).fetch,
      },
      storage,
      realtime: realtime.handle,
      livekit: livekit?.handle,
      openai: openai?.handle,
      twilio: twilio?.handle,
      jwks,
      apiKeys,
    });
    return {
      config,
      deps,
      prepared,
      anonKey,
      serviceRoleKey,
      publishableKey: local.publishableKey,
      secretKey: local.secretKey,
      tenantKeys,
      api,
      realtime,
      handler,
      livekit,
      openai,
      twilio,
      close: async () => {
        // The stand-ins' webhooks in flight write to the database: let them land first.
        await Promise.all([twilio?.settle(), livekit?.settled()]);
        await realtime.close();
        await deps.db.close();
      },
    };
  } catch (error) {
    await deps.db.close();
    throw error;
  }
}

function positiveInteger(text: string | undefined): number | undefined {
  const value = Number(text);
  return Number.isInteger(value) && value > 0 ? value : undefined;
}
