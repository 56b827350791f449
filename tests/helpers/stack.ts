/**
 * Runs the real local stack (gateway, functions, database) on a free port for
 * one test, on PGlite (in memory) or on a fresh database of the PostgreSQL
 * server that `deno task test` started. Everything is real except WhatsApp:
 * its sender is captured here instead of printing (the product's
 * WhatsAppSender interface, the same seam the console sender uses).
 */
import postgres from "postgres";
import { SignJWT } from "jose";
import { signWithCurrentKey } from "../../shared/auth/jwt.ts";
import { createLogger } from "../../shared/app/logger.ts";
import type { WhatsAppMessage, WhatsAppSender } from "../../shared/adapters/whatsapp/sender.ts";
import { RATE_LIMITS, type RateLimits } from "../../shared/auth/rate-limits.ts";
import { hashPassword } from "../../shared/auth/password.ts";
import { createStack, type Stack } from "../../supabase/local/stack.ts";
import {
  recordLogLine,
  recordSensitive,
  recordSensitiveRequest,
  recordSensitiveResponse,
} from "./log-audit.ts";

export type Driver = "pglite" | "postgres";

export const PG_URL = Deno.env.get("TEST_PG_URL");

export interface TestStack {
  driver: Driver;
  stack: Stack;
  /** http://127.0.0.1:<port> */
  origin: string;
  /** The stack's data folder (Storage keeps its objects under `storage/`). */
  dataDir: string;
  /** URL of an api function path, e.g. api("/v1/user") */
  api(path: string): string;
  outbox: WhatsAppMessage[];
  logs: string[];
  close(): Promise<void>;
}

/** Rate limits high enough that only the rate-limit tests meet them. */
export const RELAXED_LIMITS: RateLimits = Object.fromEntries(
  Object.entries(RATE_LIMITS).map(([k, v]) => [k, { ...v, max: 10_000 }]),
) as unknown as RateLimits;

/** The limits of the costly endpoints (shared/config.ts), as high: set one in `env` to test it. */
export const RELAXED_COST_LIMITS: Record<string, string> = {
  OPENAI_USER_RATE_LIMIT: "10000/60",
  OPENAI_DAILY_BUDGET: "1000000",
  WHATSAPP_SEND_USER_RATE_LIMIT: "10000/60",
  WHATSAPP_SEND_RECIPIENT_RATE_LIMIT: "10000/60",
};

export interface StartOptions {
  seed?: boolean;
  rateLimits?: RateLimits;
  env?: Record<string, string>;
  /** Answers some requests itself in front of the gateway, on the same port (the bench's WebSocket echo). */
  route?: (request: Request) => Response | undefined;
  /** The chat's 'now' (Deps.clock): time injected, not slept. */
  clock?: () => Date;
  /**
   * Send WhatsApp through the real twilio SDK to the Twilio stand-in
   * (supabase/local/twilio/, at the gateway's /2010-04-01/*) instead of
   * capturing it in `outbox`; the messages are in `stack.twilio.messages`.
   */
  twilio?: boolean;
  /** postgres only: this database (already migrated) instead of a copy of the suite's template. */
  databaseUrl?: string;
  /** On the "postgres" driver: a server of the test's own (its URL and template) instead of the suite's. */
  postgres?: { url: string; template: string };
}

/** The Twilio account of the tests that use the Twilio stand-in. */
export const TEST_TWILIO = {
  accountSid: `AC${"0123456789abcdef".repeat(2)}`,
  authToken: "test-twilio-auth-token-0123456789",
  from: "+14155238886",
};

export async function startTestStack(driver: Driver, options: StartOptions = {}): Promise<TestStack> {
  const dataDir = await Deno.makeTempDir({ prefix: "consultorio-test-" });
  // No JWT_SECRET nor JWT_SIGNING_KEYS: the stack signs with an ES256 key of
  // its own, as a Supabase project with signing keys does; a test of the
  // legacy HS256 mode gives JWT_SECRET in `env`.
  const env: Record<string, string> = {
    WHATSAPP_SENDER: "console",
    ...RELAXED_COST_LIMITS,
    ...options.env,
  };
  let dropDatabase = async () => {};
  if (driver === "postgres" && options.databaseUrl) {
    env.DATABASE_URL = options.databaseUrl;
  } else if (driver === "postgres") {
    // Read now, not at import: the bench and the fuzzer set them after importing this module.
    const pgUrl = options.postgres?.url ?? Deno.env.get("TEST_PG_URL");
    const pgTemplate = options.postgres?.template ?? Deno.env.get("TEST_PG_TEMPLATE");
    if (!pgUrl || !pgTemplate) {
      throw new Error("TEST_PG_URL is not set: run the tests with `deno task test`");
    }
    const name = `t_${crypto.randomUUID().replaceAll("-", "")}`;
    const admin = postgres(pgUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name} template ${pgTemplate}`);
    await admin.end();
    const url = new URL(pgUrl);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    dropDatabase = async () => {
      const admin = postgres(pgUrl, { max: 1, onnotice: () => {} });
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    };
  }

  const outbox: WhatsAppMessage[] = [];
  const logs: string[] = [];
  const whatsapp: WhatsAppSender = {
    name: "test-capture",
    send(message) {
      outbox.push(message);
      recordSensitive(message.to, ...(message.body.match(/\d{6}/g) ?? []));
      return Promise.resolve({
        messageSid: `SM${crypto.randomUUID().replaceAll("-", "")}`,
        status: "queued",
      });
    },
  };

  // Listen first: the stack gives its URL to the functions (SUPABASE_URL).
  const ready: { gateway?: Stack["handler"] } = {};
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) =>
      options.route?.(request) ??
        (ready.gateway ? ready.gateway(request, info) : new Response("starting", { status: 503 })),
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  if (options.twilio) {
    env.WHATSAPP_SENDER = "twilio";
    env.TWILIO_ACCOUNT_SID = TEST_TWILIO.accountSid;
    env.TWILIO_AUTH_TOKEN = TEST_TWILIO.authToken;
    env.TWILIO_WHATSAPP_FROM = TEST_TWILIO.from;
    env.TWILIO_API_URL = origin;
  }
  let stack: Stack;
  try {
    stack = await createStack({
      dataDir,
      env,
      inMemory: true,
      seed: options.seed ?? false,
      publicUrl: origin,
      // A refused Realtime join waits 5 s on Supabase (and by default here); tests need not.
      realtime: { joinErrorBackoffMs: 50 },
      overrides: {
        ...(options.twilio ? {} : { whatsapp }),
        logger: createLogger("debug", (line) => {
          logs.push(line);
          recordLogLine(line);
        }),
        rateLimits: options.rateLimits ?? RELAXED_LIMITS,
        clock: options.clock,
      },
    });
  } catch (error) {
    await server.shutdown();
    await dropDatabase();
    throw error;
  }
  ready.gateway = stack.handler;
  return {
    driver,
    stack,
    origin,
    dataDir,
    api: (path) => `${origin}/functions/v1/api${path}`,
    outbox,
    logs,
    async close() {
      await server.shutdown();
      await stack.close();
      await dropDatabase();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** Registers `name [pglite]` and `name [postgres]`, each on a stack of its own. */
export function testBothDrivers(
  name: string,
  fn: (t: Deno.TestContext, s: TestStack) => Promise<void>,
  options: StartOptions = {},
) {
  for (const driver of ["pglite", "postgres"] as const) {
    Deno.test({
      name: `${name} [${driver}]`,
      ignore: driver === "postgres" && !PG_URL,
      sanitizeOps: false,
      sanitizeResources: false,
      async fn(t) {
        const s = await startTestStack(driver, options);
        try {
          await fn(t, s);
        } finally {
          await s.close();
        }
      },
    });
  }
}

// ---------------------------------------------------------------------------
// Fixtures: people created directly in the database (setup, not under test)
// ---------------------------------------------------------------------------

export const TEST_PASSWORD = "test-password-1";
let testPasswordHash: Promise<string> | undefined;

let phoneCounter = 0;
export function uniquePhone(): string {
  phoneCounter++;
  return `+5491${String(Date.now() % 1_000_000).padStart(6, "0")}${String(phoneCounter).padStart(3, "0")}`;
}

export interface TestUser {
  id: string;
  role: "admin" | "doctor" | "patient";
  phone: string;
  email: string;
  token: string;
}

export async function ensureSpecialty(s: TestStack): Promise<string> {
  const [row] = await s.stack.deps.db.queryAsOwner<{ id: string }>(
    `insert into public.specialties (name) values ('Test specialty')
     on conflict (lower(name)) do update set name = excluded.name returning id`,
  );
  return row.id;
}

/** Inserts a user with TEST_PASSWORD and signs them in through the API. */
export async function createUser(
  s: TestStack,
  role: TestUser["role"],
  fields: { name?: string; lastName?: string } = {},
): Promise<TestUser> {
  const phone = uniquePhone();
  const email = `${role}.${crypto.randomUUID().slice(0, 8)}@test.consultorio.dev`;
  const specialtyId = role === "doctor" ? await ensureSpecialty(s) : null;
  testPasswordHash ??= hashPassword(TEST_PASSWORD);
  const [user] = await s.stack.deps.db.queryAsOwner<{ id: string }>(
    `with u as (
       insert into public.users (role, name, last_name, phone, email, specialty_id)
       values ($1, $2, $3, $4, $5, $6) returning id
     )
     insert into private.credentials (user_id, password_hash, password_changed_at)
     select id, $7, now() from u returning user_id as id`,
    [role, fields.name ?? "Test", fields.lastName ?? role, phone, email, specialtyId, await testPasswordHash],
  );
  const token = await login(s, phone, TEST_PASSWORD);
  recordSensitive(phone, email, fields.name, fields.lastName, TEST_PASSWORD);
  return { id: user.id, role, phone, email, token };
}

/**
 * A JWT with these claims signed with the project's current key (the
 * signing key, or the secret in the HS256 mode), as whoever held it could
 * sign one; `exp` and `iat` as given, or an hour from now.
 */
export async function signAsProject(s: TestStack, claims: Record<string, unknown>): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return await signWithCurrentKey(
    s.stack.config.jwt,
    new SignJWT({ iat: now, exp: now + 3600, ...claims }),
  );
}

export async function login(s: TestStack, phone: string, password: string): Promise<string> {
  const res = await fetch(s.api("/v1/auth/login"), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ phone, password }),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(body)}`);
  recordSensitive(phone, password, body.data.accessToken);
  return body.data.accessToken;
}

/** A platform token for Realtime and Storage (POST /v1/auth/realtime-token) from the session of `token`. */
export async function realtimeToken(s: TestStack, token: string): Promise<string> {
  const res = await call(s, "POST", "/v1/auth/realtime-token", { token });
  if (res.status !== 200) {
    throw new Error(`realtime-token refused: ${res.status} ${JSON.stringify(res.body)}`);
  }
  recordSensitive(res.body.data.token);
  return res.body.data.token;
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

export interface CallOptions {
  token?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
}

export async function call(s: TestStack, method: string, path: string, options: CallOptions = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    recordSensitiveRequest(options.body);
    body = JSON.stringify(options.body);
    headers["Content-Type"] ??= "application/json";
  }
  const res = await fetch(s.api(path), { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch { /* not JSON */ }
  recordSensitiveResponse(parsed);
  return { status: res.status, headers: res.headers, body: parsed } as CallResult;
}
