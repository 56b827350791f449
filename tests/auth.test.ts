/** Auth over real HTTP: login, logout and revocation, password reset by WhatsApp code. */
import { assertFieldErrors, assertMissingFields, assertOk, assertProblem } from "./helpers/assertions.ts";
import { assert, assertEquals, assertMatch, assertNotEquals } from "./helpers/std.ts";
import {
  call,
  createUser,
  login,
  RELAXED_LIMITS,
  signAsProject,
  TEST_PASSWORD,
  testBothDrivers,
} from "./helpers/stack.ts";
import { decodeJwt, SignJWT } from "jose";

testBothDrivers("auth: login, tokens and logout", async (t, s) => {
  const doctor = await createUser(s, "doctor", { name: "Diego" });

  await t.step(
    "login answers a Supabase-shaped ES256 token (the current key's kid) and the user",
    async () => {
      const res = await call(s, "POST", "/v1/auth/login", {
        body: { phone: doctor.phone, password: TEST_PASSWORD },
      });
      assertOk(res);
      assertEquals(res.body.data.user.id, doctor.id);
      assertEquals(res.body.data.user.name, "Diego");
      assertEquals(res.body.data.user.phone, doctor.phone);
      const [header, payload] = res.body.data.accessToken.split(".").slice(0, 2).map((p: string) =>
        JSON.parse(atob(p.replaceAll("-", "+").replaceAll("_", "/")))
      );
      assertEquals(header, { alg: "ES256", typ: "JWT", kid: s.stack.config.jwt.signingKeys[0].kid });
      assertEquals(payload.sub, doctor.id);
      assertEquals(payload.role, "authenticated");
      assertEquals(payload.aud, "authenticated");
      assertEquals(payload.user_role, "doctor");
      assertEquals(payload.phone, doctor.phone);
      assertMatch(payload.jti, /^[0-9a-f-]{36}$/);
      assertEquals(payload.exp - payload.iat, 30 * 24 * 60 * 60);
    },
  );

  await t.step("a wrong password and an unknown phone get the same 401", async () => {
    const wrong = await call(s, "POST", "/v1/auth/login", {
      body: { phone: doctor.phone, password: "not-it-123" },
    });
    const unknown = await call(s, "POST", "/v1/auth/login", {
      body: { phone: "+5491199999999", password: TEST_PASSWORD },
    });
    assertProblem(wrong, 401, "AUTH_001");
    assertProblem(unknown, 401, "AUTH_001");
    assertEquals(wrong.body.detail, unknown.body.detail);
  });

  await t.step("bad input names the fields", async () => {
    assertMissingFields(await call(s, "POST", "/v1/auth/login", { body: {} }), "phone", "password");
    assertFieldErrors(
      await call(s, "POST", "/v1/auth/login", { body: { phone: "12345", password: "short" } }),
      "phone",
      "password",
    );
    assertFieldErrors(
      await call(s, "POST", "/v1/auth/login", {
        rawBody: "{not json",
        headers: { "Content-Type": "application/json" },
      }),
      "body",
    );
  });

  await t.step("no token, a malformed one, a forged one or an expired one: 401", async () => {
    assertProblem(await call(s, "GET", "/v1/user/me"), 401, "AUTH_001");
    assertProblem(await call(s, "GET", "/v1/user/me", { token: "abc" }), 401, "AUTH_001");
    const payload = decodeJwt(doctor.token);
    const forged = await new SignJWT({ ...payload, user_role: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode("a-different-secret-of-at-least-32-chars!!"));
    assertProblem(await call(s, "GET", "/v1/user/me", { token: forged }), 401, "AUTH_001");
    const expired = await signAsProject(s, { ...payload, exp: Math.floor(Date.now() / 1000) - 10 });
    assertProblem(await call(s, "GET", "/v1/user/me", { token: expired }), 401, "AUTH_001");
    const anonKey = await call(s, "GET", "/v1/user/me", { token: s.stack.anonKey });
    assertProblem(anonKey, 401, "AUTH_001");
    assertOk(await call(s, "GET", "/v1/user/me", { token: doctor.token }));
  });

  await t.step("logout revokes the token: the same token then gets 401 everywhere", async () => {
    const token = await login(s, doctor.phone, TEST_PASSWORD);
    const other = await login(s, doctor.phone, TEST_PASSWORD);
    assertOk(await call(s, "GET", "/v1", { token }));
    const out = await call(s, "POST", "/v1/auth/logout", { token });
    assertOk(out);
    assertEquals(out.body.data.message, "Sesión cerrada correctamente");
    for (const [method, path] of [["GET", "/v1"], ["GET", "/v1/user/me"], ["POST", "/v1/auth/logout"]]) {
      assertProblem(await call(s, method, path, { token }), 401, "AUTH_001");
    }
    // a route that fails validation before touching the database still says 401
    assertProblem(await call(s, "GET", "/v1/user/not-a-uuid", { token }), 401, "AUTH_001");
    // the user's other session lives on
    assertOk(await call(s, "GET", "/v1/user/me", { token: other }));
  });

  await t.step(
    "realtime-token: a short Supabase-shaped token of the live session, never an API token",
    async () => {
      const token = await login(s, doctor.phone, TEST_PASSWORD);
      const before = Math.floor(Date.now() / 1000);
      const res = await call(s, "POST", "/v1/auth/realtime-token", { token });
      assertOk(res);
      const minted = res.body.data.token;
      const claims = decodeJwt(minted);
      const session = decodeJwt(token);
      assertEquals(claims.sub, doctor.id);
      assertEquals(claims.role, "authenticated");
      assertEquals(claims.aud, "authenticated");
      assertEquals(claims.user_role, "doctor");
      assertEquals(claims.session_id, session.jti);
      assertEquals(claims.phone, undefined, "the platform token carries no phone");
      const ttl = (claims.exp as number) - (claims.iat as number);
      assertEquals(ttl, 300, "REALTIME_TOKEN_TTL_SECONDS defaults to 5 minutes");
      assert((claims.iat as number) >= before);
      assertEquals(Date.parse(res.body.data.expiresAt), (claims.exp as number) * 1000);
      // It opens Realtime and Storage, not the API.
      assertProblem(await call(s, "GET", "/v1/user/me", { token: minted }), 401, "AUTH_001");
      assertProblem(await call(s, "POST", "/v1/auth/realtime-token", { token: minted }), 401, "AUTH_001");
      assertProblem(await call(s, "POST", "/v1/auth/realtime-token"), 401, "AUTH_001");
      // A dead session mints nothing.
      assertOk(await call(s, "POST", "/v1/auth/logout", { token }));
      assertProblem(await call(s, "POST", "/v1/auth/realtime-token", { token }), 401, "AUTH_001");
    },
  );
});

testBothDrivers("auth: forgot and reset password by WhatsApp code", async (t, s) => {
  const patient = await createUser(s, "patient");
  const codeFrom = (i: number) => /(\d{6})/.exec(s.outbox[i].body)![1];
  const flush = () => new Promise((r) => setTimeout(r, 20));

  await t.step("forgot-password sends a 6-digit code to the user's WhatsApp", async () => {
    const res = await call(s, "POST", "/v1/auth/forgot-password", { body: { phone: patient.phone } });
    assertOk(res);
    await flush();
    assertEquals(s.outbox.length, 1);
    assertEquals(s.outbox[0].to, patient.phone);
    assertMatch(s.outbox[0].body, /\b\d{6}\b/);
  });

  await t.step("an unknown phone gets the same answer and nothing is sent", async () => {
    const known = await call(s, "POST", "/v1/auth/forgot-password", { body: { phone: patient.phone } });
    const unknown = await call(s, "POST", "/v1/auth/forgot-password", { body: { phone: "+5491188888888" } });
    await flush();
    assertEquals(unknown.status, 200);
    assertEquals(unknown.body.data, known.body.data);
    assertEquals(s.outbox.length, 2, "only the known phone got a message");
  });

  await t.step("the code is stored hashed, never as sent", async () => {
    const rows = await s.stack.deps.db.queryAsOwner<{ code_hash: string }>(
      "select code_hash from private.password_reset_codes",
    );
    for (const row of rows) {
      assert(!row.code_hash.includes(codeFrom(0)) && !row.code_hash.includes(codeFrom(1)));
      assertMatch(row.code_hash, /^[0-9a-f]{64}$/);
    }
  });

  await t.step("a new code replaces the old one", async () => {
    const res = await call(s, "POST", "/v1/auth/reset-password", {
      body: {
        phone: patient.phone,
        code: codeFrom(0),
        newPassword: "nueva-clave-1",
        confirmPassword: "nueva-clave-1",
      },
    });
    if (codeFrom(0) !== codeFrom(1)) assertProblem(res, 400, "AUTH_003");
  });

  await t.step("passwords that differ: 400 passwords-do-not-match, the code untouched", async () => {
    const res = await call(s, "POST", "/v1/auth/reset-password", {
      body: {
        phone: patient.phone,
        code: codeFrom(1),
        newPassword: "nueva-clave-1",
        confirmPassword: "otra-clave-2",
      },
    });
    assertProblem(res, 400, "VAL_003");
    assertEquals(res.body.detail, "passwords-do-not-match");
    assertEquals(res.body.errors[0].field, "confirmPassword");
  });

  await t.step("bad input names the fields", async () => {
    assertFieldErrors(
      await call(s, "POST", "/v1/auth/reset-password", { body: { phone: "x", code: "12ab" } }),
      "phone",
      "code",
      "newPassword",
      "confirmPassword",
    );
    assertFieldErrors(await call(s, "POST", "/v1/auth/forgot-password", { body: { phone: 5 } }), "phone");
  });

  await t.step("the right code sets the password, ends old sessions, and is single use", async () => {
    const before = patient.token;
    assertOk(await call(s, "GET", "/v1/user/me", { token: before }));
    const body = {
      phone: patient.phone,
      code: codeFrom(1),
      newPassword: "nueva-clave-1",
      confirmPassword: "nueva-clave-1",
    };
    const res = await call(s, "POST", "/v1/auth/reset-password", { body });
    assertOk(res);
    assertProblem(await call(s, "GET", "/v1/user/me", { token: before }), 401, "AUTH_001");
    assertProblem(
      await call(s, "POST", "/v1/auth/login", { body: { phone: patient.phone, password: TEST_PASSWORD } }),
      401,
      "AUTH_001",
    );
    const fresh = await login(s, patient.phone, "nueva-clave-1");
    assertOk(await call(s, "GET", "/v1/user/me", { token: fresh }));
    const again = await call(s, "POST", "/v1/auth/reset-password", {
      body: { ...body, newPassword: "tercera-clave", confirmPassword: "tercera-clave" },
    });
    assertProblem(again, 400, "AUTH_003");
    assertEquals(again.body.detail, "invalid-or-expired-otp");
  });

  await t.step("five wrong tries burn the code: the right one then fails too", async () => {
    await call(s, "POST", "/v1/auth/forgot-password", { body: { phone: patient.phone } });
    await flush();
    const code = codeFrom(s.outbox.length - 1);
    const wrong = code === "000000" ? "111111" : "000000";
    for (let i = 0; i < 5; i++) {
      const res = await call(s, "POST", "/v1/auth/reset-password", {
        body: {
          phone: patient.phone,
          code: wrong,
          newPassword: "clave-nueva-9",
          confirmPassword: "clave-nueva-9",
        },
      });
      assertProblem(res, 400, "AUTH_003");
    }
    const right = await call(s, "POST", "/v1/auth/reset-password", {
      body: { phone: patient.phone, code, newPassword: "clave-nueva-9", confirmPassword: "clave-nueva-9" },
    });
    assertProblem(right, 400, "AUTH_003");
  });

  await t.step("an expired code is refused", async () => {
    await call(s, "POST", "/v1/auth/forgot-password", { body: { phone: patient.phone } });
    await flush();
    const code = codeFrom(s.outbox.length - 1);
    await s.stack.deps.db.queryAsOwner(
      "update private.password_reset_codes set expires_at = now() - interval '1 second' where consumed_at is null",
    );
    const res = await call(s, "POST", "/v1/auth/reset-password", {
      body: { phone: patient.phone, code, newPassword: "clave-nueva-9", confirmPassword: "clave-nueva-9" },
    });
    assertProblem(res, 400, "AUTH_003");
  });
});

testBothDrivers(
  "auth: rate limits per phone and per client",
  async (t, s) => {
    const patient = await createUser(s, "patient");
    const doctor = await createUser(s, "doctor");

    await t.step("the 4th login try of a phone in the window is refused with Retry-After", async () => {
      for (let i = 0; i < 2; i++) {
        assertProblem(
          await call(s, "POST", "/v1/auth/login", { body: { phone: patient.phone, password: "wrong-pass" } }),
          401,
          "AUTH_001",
        );
      }
      // createUser's own login was the first try; this is the 4th
      const res = await call(s, "POST", "/v1/auth/login", {
        body: { phone: patient.phone, password: TEST_PASSWORD },
      });
      assertProblem(res, 429, "RATE_001");
      const retryAfter = Number(res.headers.get("Retry-After"));
      assert(retryAfter >= 1 && retryAfter <= 900, `Retry-After ${retryAfter}`);
    });

    await t.step("another phone from another client still signs in", async () => {
      const other = await createUser(s, "patient");
      assertNotEquals(other.token, "");
    });

    await t.step("one client trying many phones is refused past its own limit", async () => {
      const headers = { "X-Forwarded-For": "203.0.113.7" };
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await call(s, "POST", "/v1/auth/login", {
          body: { phone: `+54911777000${i}`, password: "whatever-1" },
          headers,
        });
        statuses.push(res.status);
      }
      // the gateway appends the real address, so the forged header does not pick the bucket:
      // all these come from 127.0.0.1, which already spent tries above
      assert(statuses.includes(429), `statuses ${statuses}`);
    });

    await t.step("forgot-password is limited per phone too", async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        statuses.push(
          (await call(s, "POST", "/v1/auth/forgot-password", { body: { phone: doctor.phone } })).status,
        );
      }
      assertEquals(statuses, [200, 200, 429]);
    });

    await t.step("rate-limit keys are digests: no phone is stored", async () => {
      const rows = await s.stack.deps.db.queryAsOwner<{ key: string }>(
        "select key from private.rate_limit_hits",
      );
      assert(rows.length > 0);
      for (const row of rows) assertMatch(row.key, /^[0-9a-f]{64}$/);
    });
  },
  {
    rateLimits: {
      ...RELAXED_LIMITS,
      loginPerPhone: { max: 3, windowSeconds: 900 },
      loginPerClient: { max: 8, windowSeconds: 900 },
      forgotPerPhone: { max: 2, windowSeconds: 3600 },
      forgotPerClient: { max: 10, windowSeconds: 3600 },
      resetPerPhone: { max: 10, windowSeconds: 3600 },
      resetPerClient: { max: 30, windowSeconds: 3600 },
    },
  },
);
