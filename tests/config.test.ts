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

  await t.step("production's default sender is Twilio, and it needs its three settings", async () => {
    const error = await assertRejects(() => Promise.resolve().then(() => loadConfig({ JWT_SECRET: SECRET })));
    assert(error instanceof ConfigError);
    for (const key of ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM"]) {
      assert(error.message.includes(key), key);
    }
  });

  await t.step("SUPABASE_DB_URL wins over DATABASE_URL; no URL means PGlite", () => {
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
  });

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
