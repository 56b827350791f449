/** /v1/user over real HTTP: admin-only CRUD, self-read, and what others are refused. */
import { assertFieldErrors, assertOk, assertProblem } from "./helpers/assertions.ts";
import { assert, assertEquals } from "./helpers/std.ts";
import { call, createUser, ensureSpecialty, login, testBothDrivers, uniquePhone } from "./helpers/stack.ts";

testBothDrivers("users: admin-only management, refused to doctors and patients", async (t, s) => {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const patient = await createUser(s, "patient");
  const specialtyId = await ensureSpecialty(s);
  const newDoctor = () => ({
    role: "doctor",
    name: "Dora",
    lastName: "Díaz",
    phone: uniquePhone(),
    email: `dora.${crypto.randomUUID().slice(0, 6)}@Consultorio.dev`,
    specialtyId,
    password: "clave-segura-1",
  });
  let created: { id: string; phone: string };

  await t.step("creating a user is refused to a doctor and a patient (403), nothing written", async () => {
    const body = newDoctor();
    assertProblem(await call(s, "POST", "/v1/user", { token: doctor.token, body }), 403, "AUTH_002");
    assertProblem(await call(s, "POST", "/v1/user", { token: patient.token, body }), 403, "AUTH_002");
    const rows = await s.stack.deps.db.queryAsOwner("select 1 from public.users where phone = $1", [
      body.phone,
    ]);
    assertEquals(rows.length, 0);
  });

  await t.step("the admin creates a doctor who can then sign in", async () => {
    const body = newDoctor();
    const res = await call(s, "POST", "/v1/user", { token: admin.token, body });
    assertOk(res, 201);
    assertEquals(res.body.data.role, "doctor");
    assertEquals(res.body.data.lastName, "Díaz");
    assertEquals(res.body.data.email, body.email.toLowerCase());
    assertEquals(res.body.data.specialty.id, specialtyId);
    created = res.body.data;
    assert(await login(s, body.phone, "clave-segura-1"));
  });

  await t.step("a user created without a password cannot sign in until they set one", async () => {
    const body = { ...newDoctor(), role: "patient", specialtyId: undefined, password: undefined };
    const res = await call(s, "POST", "/v1/user", { token: admin.token, body });
    assertOk(res, 201);
    const signIn = await call(s, "POST", "/v1/auth/login", {
      body: { phone: body.phone, password: "anything-1" },
    });
    assertProblem(signIn, 401, "AUTH_001");
  });

  await t.step("a duplicate phone or email is 409 RES_002 naming the field", async () => {
    const phoneTaken = await call(s, "POST", "/v1/user", {
      token: admin.token,
      body: { ...newDoctor(), phone: created.phone },
    });
    assertProblem(phoneTaken, 409, "RES_002");
    assertEquals(phoneTaken.body.errors[0].field, "phone");
    assert(!JSON.stringify(phoneTaken.body).includes(created.phone), "the answer does not echo the value");
    const emailTaken = await call(s, "POST", "/v1/user", {
      token: admin.token,
      body: { ...newDoctor(), email: doctor.email.toUpperCase() },
    });
    assertProblem(emailTaken, 409, "RES_002");
    assertEquals(emailTaken.body.errors[0].field, "email");
  });

  await t.step("bad input names the fields", async () => {
    assertFieldErrors(
      await call(s, "POST", "/v1/user", {
        token: admin.token,
        body: { role: "nurse", email: "x", phone: 1 },
      }),
      "role",
      "email",
      "phone",
      "name",
      "lastName",
    );
    assertFieldErrors(
      await call(s, "POST", "/v1/user", {
        token: admin.token,
        body: { ...newDoctor(), specialtyId: undefined },
      }),
      "specialtyId",
    );
    assertFieldErrors(
      await call(s, "POST", "/v1/user", {
        token: admin.token,
        body: { ...newDoctor(), name: "x".repeat(101) },
      }),
      "name",
    );
    assertFieldErrors(await call(s, "GET", "/v1/user/not-a-uuid", { token: admin.token }), "id");
    assertFieldErrors(await call(s, "GET", "/v1/user?limit=0", { token: admin.token }), "limit");
    assertFieldErrors(await call(s, "GET", "/v1/user?cursor=%%%", { token: admin.token }), "cursor");
    assertFieldErrors(
      await call(s, "PATCH", `/v1/user/${doctor.id}`, { token: admin.token, body: { isActive: "yes" } }),
      "isActive",
    );
  });

  await t.step("a specialty that does not exist is 404 naming the field", async () => {
    const res = await call(s, "POST", "/v1/user", {
      token: admin.token,
      body: { ...newDoctor(), specialtyId: crypto.randomUUID() },
    });
    assertProblem(res, 404, "RES_001");
    assertEquals(res.body.errors[0].field, "specialtyId");
  });

  await t.step("listing is refused to a doctor and a patient, served to the admin", async () => {
    assertProblem(await call(s, "GET", "/v1/user", { token: doctor.token }), 403, "AUTH_002");
    assertProblem(await call(s, "GET", "/v1/user", { token: patient.token }), 403, "AUTH_002");
    const res = await call(s, "GET", "/v1/user?role=doctor", { token: admin.token });
    assertOk(res);
    assert(res.body.data.every((u: { role: string }) => u.role === "doctor"));
    assert(res.body.data.some((u: { id: string }) => u.id === doctor.id));
    assertEquals(res.body.pageInfo.nextCursor, null);
  });

  await t.step("a patient cannot read another user (404) but reads themself", async () => {
    assertProblem(await call(s, "GET", `/v1/user/${doctor.id}`, { token: patient.token }), 404, "RES_001");
    const self = await call(s, "GET", `/v1/user/${patient.id}`, { token: patient.token });
    assertOk(self);
    assertEquals(self.body.data.id, patient.id);
    const me = await call(s, "GET", "/v1/user/me", { token: patient.token });
    assertEquals(me.body.data.id, patient.id);
  });

  await t.step("a doctor cannot read another user (404); the admin can", async () => {
    assertProblem(await call(s, "GET", `/v1/user/${patient.id}`, { token: doctor.token }), 404, "RES_001");
    assertOk(await call(s, "GET", `/v1/user/${patient.id}`, { token: admin.token }));
  });

  await t.step("updating is refused to a patient, even their own row; the admin updates", async () => {
    assertProblem(
      await call(s, "PATCH", `/v1/user/${patient.id}`, { token: patient.token, body: { role: "admin" } }),
      403,
      "AUTH_002",
    );
    const res = await call(s, "PATCH", `/v1/user/${created.id}`, {
      token: admin.token,
      body: { name: "Dorotea" },
    });
    assertOk(res);
    assertEquals(res.body.data.name, "Dorotea");
    assertProblem(
      await call(s, "PATCH", `/v1/user/${crypto.randomUUID()}`, {
        token: admin.token,
        body: { name: "Nadie" },
      }),
      404,
      "RES_001",
    );
  });

  await t.step(
    "turning a patient into a doctor without a specialty is refused, naming specialtyId",
    async () => {
      const res = await call(s, "PATCH", `/v1/user/${patient.id}`, {
        token: admin.token,
        body: { role: "doctor" },
      });
      assertFieldErrors(res, "specialtyId");
    },
  );

  await t.step("a role change ends the user's sessions", async () => {
    const token = await login(s, created.phone, "clave-segura-1");
    assertOk(await call(s, "GET", "/v1/user/me", { token }));
    assertOk(
      await call(s, "PATCH", `/v1/user/${created.id}`, {
        token: admin.token,
        body: { role: "patient", specialtyId: null },
      }),
    );
    assertProblem(await call(s, "GET", "/v1/user/me", { token }), 401, "AUTH_001");
    const again = await login(s, created.phone, "clave-segura-1");
    const me = await call(s, "GET", "/v1/user/me", { token: again });
    assertEquals(me.body.data.role, "patient");
  });

  await t.step("deactivating a user ends their sessions and stops sign-in", async () => {
    const token = await login(s, created.phone, "clave-segura-1");
    assertOk(
      await call(s, "PATCH", `/v1/user/${created.id}`, { token: admin.token, body: { isActive: false } }),
    );
    assertProblem(await call(s, "GET", "/v1/user/me", { token }), 401, "AUTH_001");
    assertProblem(
      await call(s, "POST", "/v1/auth/login", { body: { phone: created.phone, password: "clave-segura-1" } }),
      401,
      "AUTH_001",
    );
    assertOk(
      await call(s, "PATCH", `/v1/user/${created.id}`, { token: admin.token, body: { isActive: true } }),
    );
    assert(await login(s, created.phone, "clave-segura-1"));
  });

  await t.step("ending all sessions is refused to a doctor; the admin ends them all", async () => {
    const a = await login(s, created.phone, "clave-segura-1");
    const b = await login(s, created.phone, "clave-segura-1");
    assertProblem(
      await call(s, "POST", `/v1/user/${created.id}/sessions/end`, { token: doctor.token }),
      403,
      "AUTH_002",
    );
    assertOk(await call(s, "GET", "/v1/user/me", { token: a }));
    const res = await call(s, "POST", `/v1/user/${created.id}/sessions/end`, { token: admin.token });
    assertOk(res);
    assert(res.body.data.endedSessions >= 2);
    assertProblem(await call(s, "GET", "/v1/user/me", { token: a }), 401, "AUTH_001");
    assertProblem(await call(s, "GET", "/v1/user/me", { token: b }), 401, "AUTH_001");
    assertProblem(
      await call(s, "POST", `/v1/user/${crypto.randomUUID()}/sessions/end`, { token: admin.token }),
      404,
      "RES_001",
    );
  });

  await t.step(
    "deleting is refused to a doctor; the admin's delete is soft and frees the phone",
    async () => {
      assertProblem(
        await call(s, "DELETE", `/v1/user/${created.id}`, { token: doctor.token }),
        403,
        "AUTH_002",
      );
      const token = await login(s, created.phone, "clave-segura-1");
      const res = await call(s, "DELETE", `/v1/user/${created.id}`, { token: admin.token });
      assertEquals(res.status, 204);
      assertProblem(await call(s, "GET", "/v1/user/me", { token }), 401, "AUTH_001");
      assertProblem(await call(s, "GET", `/v1/user/${created.id}`, { token: admin.token }), 404, "RES_001");
      assertProblem(
        await call(s, "DELETE", `/v1/user/${created.id}`, { token: admin.token }),
        404,
        "RES_001",
      );
      const [row] = await s.stack.deps.db.queryAsOwner<{ deleted: boolean }>(
        "select deleted_at is not null as deleted from public.users where id = $1",
        [created.id],
      );
      assertEquals(row.deleted, true, "the row stays for the records that point at it");
      const reuse = await call(s, "POST", "/v1/user", {
        token: admin.token,
        body: { ...newDoctor(), phone: created.phone },
      });
      assertOk(reuse, 201);
    },
  );
});

testBothDrivers("users: walking a list by cursor returns each row once", async (t, s) => {
  const admin = await createUser(s, "admin");
  await s.stack.deps.db.queryAsOwner(
    `insert into public.users (role, name, last_name, phone, email)
     select 'patient', 'P', 'N' || g, '+54922' || lpad(g::text, 7, '0'), 'p' || g || '@test.dev'
       from generate_series(1, 120) g`,
  );

  await t.step("pages of 25 cover all 121 users with no repeats", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `/v1/user?limit=25${cursor ? `&cursor=${cursor}` : ""}`;
      const res = await call(s, "GET", query, { token: admin.token });
      assertOk(res);
      assert(res.body.data.length <= 25);
      seen.push(...res.body.data.map((u: { id: string }) => u.id));
      cursor = res.body.pageInfo.nextCursor;
      pages++;
    } while (cursor && pages < 20);
    assertEquals(seen.length, 121);
    assertEquals(new Set(seen).size, 121);
    assertEquals(pages, 5);
  });
});
