/**
 * The README's start command, as a user runs it: `deno task start` in a
 * process of its own, on PGlite (the embedded default) and on a PostgreSQL
 * database given by DATABASE_URL. It serves health, the seed's demo accounts
 * sign in, and a second start keeps the data. One start per data folder: a
 * second one while the first runs refuses, and a killed one does not block the next.
 */
import { assert, assertEquals, assertMatch } from "./helpers/std.ts";
import { PG_URL } from "./helpers/stack.ts";
import { freePort, loginStatus, productEnv, type Started, startProduct } from "./helpers/product.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function exercise(t: Deno.TestContext, env: Record<string, string>, driver: string) {
  let first: Started;

  await t.step("it starts, prints the URL and the keys, and serves health", async () => {
    first = await startProduct(env);
    assertMatch(first.output, /API URL: http:\/\/127\.0\.0\.1:\d+/);
    assertMatch(first.output, /Publishable key: sb_publishable_\S+/);
    assertMatch(first.output, /Secret key: sb_secret_\S+/);
    assertMatch(first.output, /anon key: ey/);
    assertMatch(first.output, /service_role key: ey/);
    assertMatch(first.output, /Signing key: ES256 kid [0-9a-f-]{36}/);
    const health = await (await fetch(`${first.apiUrl}/functions/v1/api/health`)).json();
    assertEquals(health.status, "ok");
    assertEquals(health.database.driver, driver);
  });

  let adminToken = "";
  await t.step("the signing key is kept private in the data folder; the JWKS is served", async () => {
    const file = `${env.CONSULTORIO_LOCAL_DIR}/secrets.json`;
    assertEquals((await Deno.stat(file)).mode! & 0o777, 0o600);
    const [key] = JSON.parse(await Deno.readTextFile(file)).signingKeys;
    assert(typeof key.d === "string", "the private key is kept");
    const jwks = await (await fetch(`${first.apiUrl}/auth/v1/.well-known/jwks.json`)).json();
    assertEquals(jwks.keys.map((k: { kid: string }) => k.kid), [key.kid]);
    assert(!("d" in jwks.keys[0]));
  });

  await t.step("the seed's demo accounts sign in", async () => {
    for (
      const phone of [
        "+5491100000001",
        "+5491100000002",
        "+5491100000003",
        "+5491100000004",
        "+5491100000005",
      ]
    ) {
      const { status, token } = await loginStatus(first.apiUrl, phone);
      assertEquals(status, 200, phone);
      if (phone.endsWith("01")) adminToken = token!;
    }
    const specialties = await (await fetch(`${first.apiUrl}/functions/v1/api/v1/specialties`, {
      headers: { Authorization: `Bearer ${adminToken}` },
    })).json();
    assertEquals(specialties.data.map((s: { name: string }) => s.name).sort(), [
      "Cardiology",
      "General practice",
    ]);
  });

  await t.step(
    "the seed's clinic: Pablo saw Diego (completed, with a history) and will again; Paula has none",
    async () => {
      const get = async (phone: string, path: string) => {
        const { token } = await loginStatus(first.apiUrl, phone);
        return await (await fetch(`${first.apiUrl}/functions/v1/api${path}`, {
          headers: { Authorization: `Bearer ${token}` },
        })).json();
      };
      const diego = await get("+5491100000002", "/v1/appointments");
      assertEquals(diego.data.map((a: { status: string }) => a.status), ["COMPLETED", "CONFIRMED"]);
      assert(diego.data.every((a: { patient: { name: string } }) => a.patient.name === "Pablo"));
      assertEquals((await get("+5491100000005", "/v1/appointments")).data, []);
      const histories = await get("+5491100000003", "/v1/clinic-histories");
      assertEquals(histories.data.length, 1);
      assertEquals(histories.data[0].prescription.medications[0].name, "Paracetamol 500 mg");
      const availability = await get(
        "+5491100000003",
        "/v1/doctors/00000000-0000-4000-8000-000000000004/availability",
      );
      assertEquals(availability.data.weeklyHours.length, 10);
    },
  );

  await t.step("a second start keeps the data, applies nothing and seeds nothing", async () => {
    const created = await fetch(`${first.apiUrl}/functions/v1/api/v1/user`, {
      method: "POST",
      headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        role: "patient",
        name: "Persistida",
        lastName: "Prueba",
        phone: "+5491100000099",
        email: "persistida@consultorio.dev",
        password: "guardada-en-disco-1",
      }),
    });
    assertEquals(created.status, 201);
    await created.body?.cancel();
    await first.stop();

    const second = await startProduct(env);
    try {
      assertMatch(second.output, /Migrations applied now: none/);
      assert(!second.output.includes("seeded now"));
      assertEquals((await loginStatus(second.apiUrl, "+5491100000099", "guardada-en-disco-1")).status, 200);
      const me = await fetch(`${second.apiUrl}/functions/v1/api/v1/user/me`, {
        headers: { Authorization: `Bearer ${adminToken}` },
      });
      assertEquals(me.status, 200, "a token from before the restart is still valid");
      await me.body?.cancel();
    } finally {
      await second.stop();
    }
  });
}

for (const driver of ["pglite", "postgres"] as const) {
  Deno.test({
    name: driver === "pglite"
      ? "README start command: the embedded default [pglite]"
      : "README start command: with DATABASE_URL [postgres]",
    ignore: driver === "postgres" && !PG_URL,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn(t) {
      const product = await productEnv(driver);
      try {
        await exercise(t, product.env, driver);
      } finally {
        await product.cleanUp();
      }
    },
  });
}

Deno.test({
  name: "task start: one per data folder, and a killed one's lock does not block the next [pglite]",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const product = await productEnv("pglite");
    try {
      const first = await startProduct(product.env, "direct");
      await t.step(
        "a second start on the same folder exits non-zero, naming it; the first serves on",
        async () => {
          const second = await new Deno.Command(Deno.execPath(), {
            args: ["run", "-A", "supabase/local/start.ts"],
            cwd: ROOT,
            env: { ...product.env, PORT: String(freePort()) },
            stdout: "piped",
            stderr: "piped",
            signal: AbortSignal.timeout(60_000),
          }).output();
          assertEquals(second.code, 1);
          const stderr = new TextDecoder().decode(second.stderr);
          assertMatch(stderr, /Another `task start` is using \S+ \(process \d+\)/);
          assert(stderr.includes(product.env.CONSULTORIO_LOCAL_DIR), stderr);
          assertEquals((await loginStatus(first.apiUrl, "+5491100000002")).status, 200);
        },
      );
      await t.step("after kill -9 of the first, a new start comes up on the same data", async () => {
        await first.kill();
        const again = await startProduct(product.env, "direct");
        try {
          assertMatch(again.output, /Migrations applied now: none/);
          assertEquals((await loginStatus(again.apiUrl, "+5491100000002")).status, 200);
        } finally {
          await again.stop();
        }
      });
    } finally {
      await product.cleanUp();
    }
  },
});
