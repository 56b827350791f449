/** Configuration is parsed once, and a missing secret stops start-up naming it. */
import { ConfigError, loadConfig } from "../shared/config.ts";
import { assert, assertEquals, assertRejects } from "./helpers/std.ts";

const SECRET = "s".repeat(40);

Deno.test("config: defaults, and what a missing or weak secret says", async (t) => {
  await t.step("a missing JWT_SECRET stops start-up naming it", async () => {
    const error = await assertRejects(() =>
      Promise.resolve().then(() => loadConfig({ WHATSAPP_SENDER: "console" }))
    );
    assert(error instanceof ConfigError);
    assert(error.message.includes("JWT_SECRET"));
  });

  await t.step("a short JWT_SECRET is refused", async () => {
    const error = await assertRejects(() =>
      Promise.resolve().then(() => loadConfig({ JWT_SECRET: "short" }))
    );
    assert(error instanceof ConfigError && error.message.includes("JWT_SECRET"));
  });

  await t.step(
    "ARGON2_THREAD: on by default, off to hash on the request's thread, nothing else",
    async () => {
      const base = { JWT_SECRET: SECRET, WHATSAPP_SENDER: "console" };
      assertEquals(loadConfig(base).argon2Thread, true);
      assertEquals(loadConfig({ ...base, ARGON2_THREAD: "off" }).argon2Thread, false);
      const error = await assertRejects(() =>
        Promise.resolve().then(() => loadConfig({ ...base, ARGON2_THREAD: "no" }))
      );
      assert(
        error instanceof ConfigError && error.message.includes("ARGON2_THREAD must be on or off"),
        String(error),
      );
    },
  );

  await t.step("production's default sender is Twilio, and it needs its three settings", async () => {
    const error = await assertRejects(() => Promise.resolve().then(() => loadConfig({ JWT_SECRET: SECRET })));
    assert(error instanceof ConfigError);
    for (const key of ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM"]) {
      assert(error.message.includes(key), key);
    }
  });

  await t.step("REALTIME_TOKEN_TTL_SECONDS: 5 minutes by default, 1 s to 1 hour", () => {
    const base = { JWT_SECRET: SECRET, WHATSAPP_SENDER: "console" };
    assertEquals(loadConfig(base).realtimeTokenTtlSeconds, 300);
    assertEquals(loadConfig({ ...base, REALTIME_TOKEN_TTL_SECONDS: "3" }).realtimeTokenTtlSeconds, 3);
    // Past an hour the policies on realtime.messages would refuse every token.
    for (const bad of ["0", "3601", "2.5", "soon"]) {
      try {
        loadConfig({ ...base, REALTIME_TOKEN_TTL_SECONDS: bad });
        throw new Error(`${bad} was accepted`);
      } catch (error) {
        assert(error instanceof ConfigError && error.message.includes("REALTIME_TOKEN_TTL_SECONDS"), bad);
      }
    }
  });

  await t.step(
    "SUPABASE_DB_URL wins over DATABASE_URL; no URL means none (only the local stack has PGlite)",
    () => {
      const deployed = loadConfig({
        JWT_SECRET: SECRET,
        WHATSAPP_SENDER: "console",
        SUPABASE_DB_URL: "postgres://a/b",
        DATABASE_URL: "postgres://c/d",
      });
      assertEquals(deployed.database.url, "postgres://a/b");
      const local = loadConfig({ JWT_SECRET: SECRET, WHATSAPP_SENDER: "console" });
      assertEquals(local.database.url, undefined);
      assertEquals(local.corsOrigins, "*");
      assertEquals(local.database.prepare, true);
    },
  );

  await t.step(
    "behind Supavisor's transaction mode (6543, or pgbouncer=true): no prepared statements, a small pool",
    () => {
      const base = { JWT_SECRET: SECRET, WHATSAPP_SENDER: "console" };
      const direct = loadConfig({
        ...base,
        SUPABASE_DB_URL: "postgres://u:p@db.ref.supabase.co:5432/postgres",
      });
      assertEquals([direct.database.prepare, direct.database.poolSize], [true, 10]);
      for (
        const url of [
          "postgres://u:p@aws-0-sa-east-1.pooler.supabase.com:6543/postgres",
          "postgres://u:p@pooler.example:5432/postgres?pgbouncer=true",
        ]
      ) {
        const pooled = loadConfig({ ...base, SUPABASE_DB_URL: url });
        assertEquals([pooled.database.prepare, pooled.database.poolSize], [false, 5], url);
      }
      const forced = loadConfig({
        ...base,
        SUPABASE_DB_URL: "postgres://u:p@pooler.example:6543/postgres",
        DB_PREPARE: "true",
        DB_POOL_SIZE: "8",
      });
      assertEquals([forced.database.prepare, forced.database.poolSize], [true, 8]);
      const timeouts = loadConfig({ ...base, LIVEKIT_TIMEOUT_MS: "1500", BREAKER_FAILURES: "2" });
      assertEquals(timeouts.outside.timeoutMs.livekit, 1500);
      assertEquals(timeouts.outside.breakerFailures, 2);
      assertEquals(timeouts.database.connectTimeoutSeconds, 5);
    },
  );

  await t.step("CORS_ORIGINS is a comma-separated allow-list", () => {
    const config = loadConfig({
      JWT_SECRET: SECRET,
      WHATSAPP_SENDER: "console",
      CORS_ORIGINS: "https://a.dev, https://b.dev",
      DB_PREPARE: "false",
    });
    assertEquals(config.corsOrigins, ["https://a.dev", "https://b.dev"]);
    assertEquals(config.database.prepare, false);
  });

  await t.step("the WhatsApp assistant: webhook URL, status callbacks, the model", async () => {
    const config = loadConfig({
      JWT_SECRET: SECRET,
      TWILIO_ACCOUNT_SID: "AC1",
      TWILIO_AUTH_TOKEN: "token",
      TWILIO_WHATSAPP_FROM: "+14155238886",
      TWILIO_WEBHOOK_URL: "https://ref.supabase.co/functions/v1/whatsapp-webhook",
      OPENAI_API_KEY: "sk-test",
    });
    assert(config.whatsapp.sender === "twilio");
    assertEquals(
      config.whatsapp.statusCallbackUrl,
      "https://ref.supabase.co/functions/v1/whatsapp-webhook/status",
    );
    assertEquals(config.twilioWebhook, {
      authToken: "token",
      url: "https://ref.supabase.co/functions/v1/whatsapp-webhook",
    });
    assertEquals(config.openai, { apiKey: "sk-test", baseUrl: undefined, model: "gpt-4o-mini" });
    const error = await assertRejects(() =>
      Promise.resolve().then(() =>
        loadConfig({ JWT_SECRET: SECRET, WHATSAPP_SENDER: "console", OPENAI_BASE_URL: "not a url" })
      )
    );
    assert(error instanceof ConfigError && error.message.includes("OPENAI_BASE_URL"));
  });
});

Deno.test("config: the limits of the costly endpoints, their defaults and a malformed one", async () => {
  const local = { JWT_SECRET: SECRET, WHATSAPP_SENDER: "console" };
  assertEquals(loadConfig(local).costLimits, {
    assistantPerUser: { max: 20, windowSeconds: 600 },
    modelCallsPerDay: 2000,
    whatsappSendPerUser: { max: 60, windowSeconds: 3600 },
    whatsappSendPerRecipient: { max: 10, windowSeconds: 3600 },
  });
  const set = loadConfig({
    ...local,
    OPENAI_USER_RATE_LIMIT: "5/60",
    OPENAI_DAILY_BUDGET: "0",
    WHATSAPP_SEND_RECIPIENT_RATE_LIMIT: "2/86400",
  }).costLimits;
  assertEquals([set.assistantPerUser, set.modelCallsPerDay, set.whatsappSendPerRecipient], [
    { max: 5, windowSeconds: 60 },
    0,
    { max: 2, windowSeconds: 86400 },
  ]);
  for (
    const [key, value] of [["OPENAI_USER_RATE_LIMIT", "5 per minute"], [
      "WHATSAPP_SEND_USER_RATE_LIMIT",
      "0/60",
    ]]
  ) {
    const error = await assertRejects(() =>
      Promise.resolve().then(() => loadConfig({ ...local, [key]: value }))
    );
    assert(error instanceof ConfigError && error.message.includes(key), `${key}=${value}`);
  }
});
