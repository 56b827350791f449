/**
 * Access tokens signed as a Supabase project with JWT signing keys signs
 * them: ES256 with the current key's `kid` (the test stack's default), the
 * project's JWKS served by the gateway where Supabase Auth serves it, public
 * keys only; the legacy HS256 secret as the other mode. Rotation: a standby
 * key is added, rotated to, and the previous key still verifies until it is
 * removed. And the session is bound to the token's role and key (issue 15,
 * item 7): a live token re-signed with another role, or by another trusted
 * key, is 401 AUTH_001 while the rightful one works. On both drivers.
 */
import { createClient } from "@supabase/supabase-js";
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from "jose";
import {
  generateSigningKey,
  issueAccessToken,
  jwksOf,
  type JwtSettings,
  signWithCurrentKey,
  verifyAccessToken,
} from "../shared/auth/jwt.ts";
import { ConfigError, loadConfig } from "../shared/config.ts";
import { assertOk, assertProblem } from "./helpers/assertions.ts";
import { assert, assertEquals, assertRejects } from "./helpers/std.ts";
import { call, createUser, login, signAsProject, TEST_PASSWORD, testBothDrivers } from "./helpers/stack.ts";

const SECRET = "a-legacy-project-jwt-secret-of-48-characters-ok!";

testBothDrivers("signing keys: ES256 tokens, verified through the project's JWKS", async (t, s) => {
  const patient = await createUser(s, "patient");
  const current = s.stack.config.jwt.signingKeys[0];

  await t.step(
    "the gateway serves the JWKS: the current key's public half, never the private one",
    async () => {
      for (const path of ["/auth/v1/.well-known/jwks.json", "/auth/v1/jwks"]) {
        const res = await fetch(`${s.origin}${path}`);
        assertEquals(res.status, 200);
        const jwks = await res.json();
        assertEquals(jwks.keys.length, 1);
        const [key] = jwks.keys;
        assertEquals([key.kty, key.crv, key.alg, key.kid, key.use], [
          "EC",
          "P-256",
          "ES256",
          current.kid,
          "sig",
        ]);
        assertEquals([key.x, key.y], [current.x, current.y]);
        assert(!("d" in key), "the JWKS carries the private key");
      }
    },
  );

  await t.step("a login token verifies with that JWKS, as any service of the project does", async () => {
    const jwks = createRemoteJWKSet(new URL(`${s.origin}/auth/v1/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(patient.token, jwks, { audience: "authenticated" });
    assertEquals(protectedHeader.kid, current.kid);
    assertEquals(payload.sub, patient.id);
  });

  await t.step("a token signed by a key outside the set, even of the same kid, is 401", async () => {
    const stranger = await generateSigningKey();
    const forged = await signWithCurrentKey(
      { issuer: s.stack.config.jwt.issuer, signingKeys: [{ ...stranger, kid: current.kid }] },
      new SignJWT({ ...decodeJwt(patient.token) }),
    );
    assertProblem(await call(s, "GET", "/v1/user/me", { token: forged }), 401, "AUTH_001");
    assertOk(await call(s, "GET", "/v1/user/me", { token: patient.token }));
  });

  await t.step(
    "Realtime picks the JWKS key by kid: a token of an unknown kid is a signer error",
    async () => {
      const stranger = await generateSigningKey();
      const unknownKid = await signWithCurrentKey(
        { issuer: s.stack.config.jwt.issuer, signingKeys: [stranger] },
        new SignJWT({ ...decodeJwt(patient.token) }),
      );
      const client = createClient(s.origin, s.stack.publishableKey, {
        auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      });
      try {
        for (const [token, expected] of [[patient.token, "SUBSCRIBED"], [unknownKid, "CHANNEL_ERROR"]]) {
          await client.realtime.setAuth(token);
          const { status, message } = await new Promise<{ status: string; message?: string }>((resolve) => {
            let done = false;
            client.channel(`room:${crypto.randomUUID()}`).subscribe((status, err) => {
              if (!done) resolve({ status, message: err?.message });
              done = true;
            });
          });
          assertEquals(status, expected, message);
          if (expected === "CHANNEL_ERROR") assert(message?.startsWith("JwtSignerError"), message);
        }
      } finally {
        await client.removeAllChannels();
      }
    },
  );

  await t.step("an HS256 token is refused when the project has no JWT secret configured", async () => {
    const hs = await new SignJWT({ ...decodeJwt(patient.token) })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(new TextEncoder().encode(s.stack.tenantKeys.secret));
    assertProblem(await call(s, "GET", "/v1/user/me", { token: hs }), 401, "AUTH_001");
  });
});

testBothDrivers("signing keys: the legacy HS256 secret mode", async (t, s) => {
  const doctor = await createUser(s, "doctor");

  await t.step("login signs HS256 with JWT_SECRET, no kid; the JWKS is empty", async () => {
    assertEquals(decodeProtectedHeader(doctor.token), { alg: "HS256", typ: "JWT" });
    await jwtVerify(doctor.token, new TextEncoder().encode(SECRET));
    const jwks = await (await fetch(`${s.origin}/auth/v1/.well-known/jwks.json`)).json();
    assertEquals(jwks, { keys: [] });
  });

  await t.step("the token works; one signed with another secret does not", async () => {
    assertOk(await call(s, "GET", "/v1/user/me", { token: doctor.token }));
    const forged = await new SignJWT({ ...decodeJwt(doctor.token) })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(new TextEncoder().encode("another-secret-another-secret-another-secret"));
    assertProblem(await call(s, "GET", "/v1/user/me", { token: forged }), 401, "AUTH_001");
  });
}, { env: { JWT_SECRET: SECRET } });

testBothDrivers("signing keys: rotation signs no one out until the previous key is removed", async (t, s) => {
  const deps = s.stack.deps;
  const issuer = deps.config.jwt.issuer;
  const first = deps.config.jwt.signingKeys[0];
  const standby = await generateSigningKey();
  const patient = await createUser(s, "patient");
  const redeploy = (jwt: JwtSettings) => deps.config.jwt = jwt;
  const me = (token: string) => call(s, "GET", "/v1/user/me", { token });

  await t.step("a standby key is trusted but does not sign", async () => {
    redeploy({ issuer, signingKeys: [first, standby] });
    assertOk(await me(patient.token));
    assertEquals(decodeProtectedHeader(await login(s, patient.phone, TEST_PASSWORD)).kid, first.kid);
  });

  let rotated = "";
  await t.step("after rotating, new tokens carry the new kid and the old ones still work", async () => {
    redeploy({ issuer, signingKeys: [standby, first] });
    rotated = await login(s, patient.phone, TEST_PASSWORD);
    assertEquals(decodeProtectedHeader(rotated).kid, standby.kid);
    assertOk(await me(rotated));
    assertOk(await me(patient.token));
  });

  await t.step("once the previous key is removed, its tokens are 401 and the new ones work", async () => {
    redeploy({ issuer, signingKeys: [standby] });
    assertProblem(await me(patient.token), 401, "AUTH_001");
    assertOk(await me(rotated));
  });
});

testBothDrivers("sessions: a live token re-signed with another role or key is refused", async (t, s) => {
  const deps = s.stack.deps;
  const current = deps.config.jwt.signingKeys[0];
  const other = await generateSigningKey();
  // The project also trusts a standby key and its legacy secret: a token
  // signed by either verifies, so only the session can tell it apart.
  deps.config.jwt = { issuer: deps.config.jwt.issuer, signingKeys: [current, other], secret: SECRET };
  const patient = await createUser(s, "patient");
  const claims = decodeJwt(patient.token);

  await t.step("the same claims with user_role doctor, signed with the same key: 401", async () => {
    const promoted = await signAsProject(s, { ...claims, user_role: "doctor" });
    assertEquals(decodeProtectedHeader(promoted).kid, current.kid);
    assertProblem(await call(s, "GET", "/v1/user/me", { token: promoted }), 401, "AUTH_001");
    assertProblem(await call(s, "GET", "/v1/patients", { token: promoted }), 401, "AUTH_001");
  });

  await t.step("the same jti and claims signed by another trusted key id: 401", async () => {
    const byOther = await signWithCurrentKey(
      { issuer: deps.config.jwt.issuer, signingKeys: [other] },
      new SignJWT({ ...claims }),
    );
    assertProblem(await call(s, "GET", "/v1/user/me", { token: byOther }), 401, "AUTH_001");
    const byLegacySecret = await signWithCurrentKey(
      { issuer: deps.config.jwt.issuer, signingKeys: [], secret: SECRET },
      new SignJWT({ ...claims }),
    );
    assertProblem(await call(s, "GET", "/v1/user/me", { token: byLegacySecret }), 401, "AUTH_001");
  });

  await t.step(
    "the rightful token still works, and so does the same claims re-signed by its key",
    async () => {
      const me = await call(s, "GET", "/v1/user/me", { token: patient.token });
      assertOk(me);
      assertEquals(me.body.data.role, "patient");
      assertOk(await call(s, "GET", "/v1/user/me", { token: await signAsProject(s, { ...claims }) }));
    },
  );
});

Deno.test("config: the signing key set, or the legacy secret, is required and checked", async (t) => {
  const base = { WHATSAPP_SENDER: "console" };
  const key = await generateSigningKey();

  await t.step("neither JWT_SIGNING_KEYS nor JWT_SECRET: start-up stops naming both", () => {
    const error = assertThrowsConfig(() => loadConfig(base));
    assert(error.message.includes("JWT_SIGNING_KEYS") && error.message.includes("JWT_SECRET"));
  });

  await t.step(
    "one private JWK (as `supabase gen signing-key` prints it), an array or a JWK set",
    async () => {
      assertEquals(loadConfig({ ...base, JWT_SIGNING_KEYS: JSON.stringify(key) }).jwt.signingKeys, [key]);
      const second = await generateSigningKey();
      for (const value of [JSON.stringify([key, second]), JSON.stringify({ keys: [key, second] })]) {
        const config = loadConfig({ ...base, JWT_SIGNING_KEYS: value });
        assertEquals(config.jwt.signingKeys.map((k) => k.kid), [key.kid, second.kid]);
        assertEquals(config.jwt.secret, undefined);
      }
    },
  );

  await t.step("an RS256 key signs too; its JWKS entry has n and e, never the private parts", async () => {
    const { privateKey } = await generateKeyPair("RS256", { extractable: true });
    const rsa = { ...(await exportJWK(privateKey)), kid: crypto.randomUUID() };
    const config = loadConfig({ ...base, JWT_SIGNING_KEYS: JSON.stringify([rsa]) });
    const issued = await issueAccessToken(
      { id: crypto.randomUUID(), role: "patient", phone: "+5491100000003" },
      config.jwt,
    );
    assertEquals(decodeProtectedHeader(issued.token), { alg: "RS256", typ: "JWT", kid: rsa.kid });
    assertEquals((await verifyAccessToken(issued.token, config.jwt))?.jti, issued.jti);
    const [published] = jwksOf(config.jwt).keys;
    assertEquals(Object.keys(published).sort(), ["alg", "e", "key_ops", "kid", "kty", "n", "use"]);
  });

  await t.step(
    "a public key, a key without kid, an unknown type, a repeated kid or bad JSON: refused",
    () => {
      const { d: _, ...publicOnly } = key;
      const { kid: __, ...noKid } = key;
      for (
        const value of [
          JSON.stringify([publicOnly]),
          JSON.stringify([noKid]),
          JSON.stringify([{ ...key, crv: "P-384" }]),
          JSON.stringify([key, key]),
          JSON.stringify([]),
          JSON.stringify([null]),
          "{not json",
        ]
      ) {
        const error = assertThrowsConfig(() => loadConfig({ ...base, JWT_SIGNING_KEYS: value }));
        assert(error.message.includes("JWT_SIGNING_KEYS"), error.message);
      }
    },
  );

  await t.step("a key whose numbers do not import stops start-up too", async () => {
    const { createDeps } = await import("../shared/deps.ts");
    const broken = loadConfig({ ...base, JWT_SIGNING_KEYS: JSON.stringify([{ ...key, d: "AA" }]) });
    const error = await assertRejects(() => createDeps(broken));
    assert(error instanceof ConfigError && error.message.includes("JWT_SIGNING_KEYS"), String(error));
  });
});

function assertThrowsConfig(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert(error instanceof ConfigError, String(error));
    return error;
  }
  throw new Error("expected a ConfigError");
}
