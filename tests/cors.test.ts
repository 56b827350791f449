/**
 * CORS (issue #20) over real HTTP through the gateway, on PGlite and on
 * PostgreSQL: the default `CORS_ORIGINS=*` lets any page call the API but
 * never with credentials (the API takes bearer tokens, not cookies), and a
 * configured list answers its own origins only.
 */
import { assert, assertEquals } from "./helpers/std.ts";
import { testBothDrivers, type TestStack } from "./helpers/stack.ts";

const APP = "https://app.consultorio.dev";
const EVIL = "https://evil.example";

async function preflight(s: TestStack, origin: string) {
  const res = await fetch(s.api("/v1/auth/login"), {
    method: "OPTIONS",
    headers: {
      Origin: origin,
      "Access-Control-Request-Method": "POST",
      "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    },
  });
  await res.body?.cancel();
  return res;
}

async function get(s: TestStack, origin: string) {
  const res = await fetch(s.api("/health"), { headers: { Origin: origin } });
  await res.body?.cancel();
  return res;
}

testBothDrivers("cors: the default is any origin, without credentials", async (t, s) => {
  await t.step("a preflight from any origin gets '*' and the methods and headers", async () => {
    for (const origin of [APP, EVIL]) {
      const res = await preflight(s, origin);
      assertEquals(res.status, 204);
      assertEquals(res.headers.get("access-control-allow-origin"), "*", "a wildcard, not the origin echoed");
      assertEquals(res.headers.get("access-control-allow-credentials"), null);
      for (const method of ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS"]) {
        assert(res.headers.get("access-control-allow-methods")!.includes(method), method);
      }
      const allowed = res.headers.get("access-control-allow-headers")!.toLowerCase();
      for (const header of ["authorization", "content-type", "idempotency-key", "apikey"]) {
        assert(allowed.includes(header), header);
      }
    }
  });

  await t.step("an ordinary response says '*' without credentials and exposes X-Request-Id", async () => {
    const res = await get(s, EVIL);
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("access-control-allow-origin"), "*");
    assertEquals(res.headers.get("access-control-allow-credentials"), null);
    assert(res.headers.get("access-control-expose-headers")!.includes("X-Request-Id"));
  });
});

testBothDrivers(
  "cors: a configured list answers its own origins only",
  async (t, s) => {
    await t.step(
      "a preflight from a listed origin gets that origin, Vary: Origin, no credentials",
      async () => {
        const res = await preflight(s, APP);
        assertEquals(res.status, 204);
        assertEquals(res.headers.get("access-control-allow-origin"), APP);
        assertEquals(res.headers.get("access-control-allow-credentials"), null);
        assert(res.headers.get("vary")!.includes("Origin"));
        assert(res.headers.get("access-control-allow-methods")!.includes("POST"));
        const other = await get(s, "http://localhost:5173");
        assertEquals(other.headers.get("access-control-allow-origin"), "http://localhost:5173");
      },
    );

    await t.step("an origin not on the list gets no Access-Control-Allow-Origin at all", async () => {
      const res = await preflight(s, EVIL);
      assertEquals(res.headers.get("access-control-allow-origin"), null);
      assertEquals(res.headers.get("access-control-allow-credentials"), null);
      const plain = await get(s, EVIL);
      assertEquals(plain.status, 200, "the server still answers; the browser withholds it from the page");
      assertEquals(plain.headers.get("access-control-allow-origin"), null);
      assert(plain.headers.get("vary")!.includes("Origin"), "caches keep answers per origin");
    });
  },
  { env: { CORS_ORIGINS: `${APP}, http://localhost:5173` } },
);
