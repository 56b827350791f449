/**
 * What frontends need beyond the contracts (issue #19), and the video
 * contract's token lifetime and health, over real HTTP on PGlite and on
 * PostgreSQL: 2-hour LiveKit tokens for every role and their refresh, the
 * public and the admin's health, a signed-in password change, booking a
 * free slot by doctor and start, and list totals under row-level security.
 * Each: the rightful call, bad input named, the wrong caller refused.
 */
import { decodeJwt } from "jose";
import { assertFieldErrors, assertMissingFields, assertOk, assertProblem } from "./helpers/assertions.ts";
import { at, book, PATIENT_PASSWORD, registerPatient, specialtyOf } from "./helpers/clinic.ts";
import { consultationFixture, openConsultation } from "./helpers/consultations.ts";
import { assert, assertEquals } from "./helpers/std.ts";
import {
  call,
  type CallResult,
  createUser,
  login,
  TEST_PASSWORD,
  testBothDrivers,
  type TestStack,
} from "./helpers/stack.ts";

// deno-lint-ignore no-explicit-any
type Payload = any;

/** A ProblemDetails of this status and code whose `errors` names `field`. */
function assertNames(res: CallResult, status: number, code: string, field: string) {
  assertProblem(res, status, code);
  const named = (res.body.errors ?? []).map((e: { field: string }) => e.field);
  assert(named.includes(field), `no error for ${field}: ${JSON.stringify(named)}`);
}

/** A started consultation (helpers' fixture), with an observer the doctor granted. */
async function liveConsultation(s: TestStack) {
  const f = await consultationFixture(s, 3);
  const id = await openConsultation(s, f);
  const observer = await createUser(s, "doctor");
  assertOk(await call(s, "POST", `/v1/consultations/${id}/start`, { token: f.doctor.token }));
  assertOk(
    await call(s, "POST", `/v1/consultations/${id}/observers`, {
      token: f.doctor.token,
      body: { userId: observer.id },
    }),
    201,
  );
  return { ...f, observer, id };
}

testBothDrivers(
  "video: LiveKit tokens last 2 hours for every role, refreshed while in progress",
  async (t, s) => {
    const f = await liveConsultation(s);
    const tokenOf = (token: string) => call(s, "POST", `/v1/consultations/${f.id}/livekit-token`, { token });

    await t.step("doctor, patient and observer each get a 2-hour token of their own", async () => {
      for (
        const [who, token] of [["doctor", f.doctor.token], ["patient", f.patient.token], [
          "observer",
          f.observer.token,
        ]]
      ) {
        const res = await tokenOf(token);
        assertOk(res);
        assertEquals(res.body.data.tokenTtlSeconds, 7200, who);
        const d = decodeJwt<Payload>(res.body.data.token);
        assertEquals(JSON.parse(d.metadata).role, who);
        assertEquals(d.exp - d.nbf, 7200, `${who}: 2 hours`);
        assert(
          Math.abs(Date.parse(res.body.data.expiresAt) / 1000 - d.exp) <= 2,
          "expiresAt is the token's exp",
        );
      }
      const room = await call(s, "POST", "/v1/video/rooms", {
        token: f.patient.token,
        body: { consultationId: f.id },
      });
      assertOk(room, 201);
      assertEquals(room.body.data.tokenTtlSeconds, 7200);
      const r = decodeJwt<Payload>(room.body.data.token);
      assertEquals(r.exp - r.nbf, 7200);
    });

    await t.step("asking again refreshes it (a later expiry or the same second's)", async () => {
      const first = decodeJwt<Payload>((await tokenOf(f.patient.token)).body.data.token);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const again = decodeJwt<Payload>((await tokenOf(f.patient.token)).body.data.token);
      assert(again.exp > first.exp, "a fresh token expires later");
    });

    await t.step("another patient 404, an admin 403, a malformed id 400", async () => {
      assertProblem(await tokenOf(f.otherPatient.token), 404, "RES_001");
      assertProblem(await tokenOf(f.admin.token), 403, "AUTH_002");
      assertFieldErrors(
        await call(s, "POST", "/v1/consultations/not-a-uuid/livekit-token", { token: f.doctor.token }),
        "id",
      );
    });

    await t.step("once closed, no refresh (409 CON_001)", async () => {
      assertOk(await call(s, "POST", `/v1/consultations/${f.id}/close`, { token: f.doctor.token }));
      assertProblem(await tokenOf(f.patient.token), 409, "CON_001");
      assertProblem(await tokenOf(f.doctor.token), 409, "CON_001");
    });
  },
);

testBothDrivers("health: public fields; rooms and connections for an admin only", async (t, s) => {
  await t.step("public: status, version, timestamp, uptime, database and LiveKit; no counts", async () => {
    const res = await call(s, "GET", "/health");
    assertEquals(res.status, 200);
    assertEquals(res.body.status, "ok");
    assertEquals(typeof res.body.version, "string");
    assert(Date.parse(res.body.timestamp) > 0, "timestamp");
    assert(typeof res.body.uptime === "number" && res.body.uptime > 0, "uptime in seconds");
    assertEquals(res.body.database.status, "up");
    assertEquals(res.body.livekit.reachable, true);
    assert(!("video" in res.body) && !JSON.stringify(res.body).includes("activeRooms"), "no counts");
  });

  await t.step("details: an admin sees the active rooms and connections", async () => {
    const f = await liveConsultation(s);
    assertOk(
      await call(s, "POST", "/v1/video/rooms", { token: f.doctor.token, body: { consultationId: f.id } }),
      201,
    );
    const livekit = s.stack.livekit;
    assert(livekit, "the LiveKit stand-in");
    livekit.join(`consultation-${f.id}`, f.doctor.id);
    livekit.join(`consultation-${f.id}`, f.patient.id);
    const res = await call(s, "GET", "/v1/health/details", { token: f.admin.token });
    assertEquals(res.status, 200, JSON.stringify(res.body));
    assertEquals(res.body.video, { activeRooms: 1, activeConnections: 2 });
    assertEquals(res.body.database.status, "up");
    assert(typeof res.body.uptime === "number", "with the public fields");

    assertProblem(await call(s, "GET", "/v1/health/details", { token: f.doctor.token }), 403, "AUTH_002");
    assertProblem(await call(s, "GET", "/v1/health/details", { token: f.patient.token }), 403, "AUTH_002");
    assertProblem(await call(s, "GET", "/v1/health/details"), 401, "AUTH_001");
  });
});

testBothDrivers("auth: a signed-in password change ends the other sessions, not this one", async (t, s) => {
  const admin = await createUser(s, "admin");
  const patient = await registerPatient(s, admin, "Pablo");
  const other = await login(s, patient.phone, PATIENT_PASSWORD);
  const bystander = await createUser(s, "doctor");
  const NEW = "una frase larga que recuerdo bien";
  const change = (token: string | undefined, body: unknown) =>
    call(s, "POST", "/v1/auth/change-password", { token, body });

  await t.step("bad input is 400 naming the field, nothing changes", async () => {
    assertMissingFields(
      await change(patient.token, { newPassword: NEW, confirmPassword: NEW }),
      "currentPassword",
    );
    assertFieldErrors(
      await change(patient.token, {
        currentPassword: PATIENT_PASSWORD,
        newPassword: "corta",
        confirmPassword: "corta",
      }),
      "newPassword",
    );
    const mismatch = await change(patient.token, {
      currentPassword: PATIENT_PASSWORD,
      newPassword: NEW,
      confirmPassword: `${NEW}!`,
    });
    assertNames(mismatch, 400, "VAL_003", "confirmPassword");
    // A common password, and one with the owner's name: the policy of password-policy.ts.
    for (const weak of ["password123", "pablo es mi nombre"]) {
      const body = { currentPassword: PATIENT_PASSWORD, newPassword: weak, confirmPassword: weak };
      assertFieldErrors(await change(patient.token, body), "newPassword");
    }
    const wrong = await change(patient.token, {
      currentPassword: "no-es-la-mia",
      newPassword: NEW,
      confirmPassword: NEW,
    });
    assertProblem(wrong, 400, "VAL_001");
    assertFieldErrors(wrong, "currentPassword");
    assertOk(await call(s, "GET", "/v1/user/me", { token: other }), 200);
    await login(s, patient.phone, PATIENT_PASSWORD);
  });

  await t.step("without a token 401", async () => {
    assertProblem(
      await change(undefined, { currentPassword: PATIENT_PASSWORD, newPassword: NEW, confirmPassword: NEW }),
      401,
      "AUTH_001",
    );
  });

  await t.step(
    "the rightful change: this session stays, the others end, the new password signs in",
    async () => {
      const res = await change(patient.token, {
        currentPassword: PATIENT_PASSWORD,
        newPassword: NEW,
        confirmPassword: NEW,
      });
      assertOk(res);
      assertOk(await call(s, "GET", "/v1/user/me", { token: patient.token }));
      assertProblem(await call(s, "GET", "/v1/user/me", { token: other }), 401, "AUTH_001");
      assertOk(await call(s, "GET", "/v1/user/me", { token: bystander.token }));
      await login(s, patient.phone, NEW);
      const old = await call(s, "POST", "/v1/auth/login", {
        body: { phone: patient.phone, password: PATIENT_PASSWORD },
      });
      assertProblem(old, 401, "AUTH_001");
    },
  );

  await t.step("an ended session cannot change it back (401)", async () => {
    assertProblem(
      await change(other, { currentPassword: NEW, newPassword: `${NEW} 2`, confirmPassword: `${NEW} 2` }),
      401,
      "AUTH_001",
    );
  });

  await t.step("another user's token changes only their own password", async () => {
    const res = await change(bystander.token, {
      currentPassword: TEST_PASSWORD,
      newPassword: "otra frase larga distinta",
      confirmPassword: "otra frase larga distinta",
    });
    assertOk(res);
    await login(s, patient.phone, NEW);
  });
});

testBothDrivers("appointments: a free slot booked by doctor and start alone", async (t, s) => {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const patient = await registerPatient(s, admin, "Pablo");
  const otherPatient = await registerPatient(s, admin, "Paula");
  await s.stack.deps.db.queryAsOwner("update public.clinic_settings set time_zone = 'UTC'");
  const weekday = ((new Date(at(7, 0)).getUTCDay() + 6) % 7) + 1;
  assertOk(
    await call(s, "PUT", `/v1/doctors/${doctor.id}/availability/weekly-hours`, {
      token: doctor.token,
      body: { weeklyHours: [{ weekday, startTime: "09:00", endTime: "11:00", slotMinutes: 20 }] },
    }),
  );
  const slots = async () => {
    const res = await call(s, "GET", `/v1/doctors/${doctor.id}/slots?from=${at(7, 0)}&to=${at(8, 0)}`, {
      token: patient.token,
    });
    assertOk(res);
    return res.body.data as Array<Record<string, string>>;
  };
  const bookSlot = (token: string, body: Record<string, unknown>) =>
    call(s, "POST", "/v1/appointments", { token, body: { reason: "Control general", ...body } });

  await t.step("a slot names its times as an appointment does (the old names kept)", async () => {
    const [first] = await slots();
    assertEquals(first.startAppointment, at(7, 9));
    assertEquals(first.endAppointment, at(7, 9, 20));
    assertEquals(first.startsAt, first.startAppointment);
    assertEquals(first.endsAt, first.endAppointment);
  });

  await t.step("a patient books { doctorId, startAppointment }: the end and specialty follow", async () => {
    const [, second] = await slots();
    const res = await bookSlot(patient.token, {
      doctorId: doctor.id,
      startAppointment: second.startAppointment,
    });
    assertOk(res, 201);
    assertEquals(res.body.data.patientId, patient.id);
    assertEquals(res.body.data.endAppointment, at(7, 9, 40));
    assertEquals(res.body.data.specialtyId, await specialtyOf(s, doctor));
    assertEquals(res.body.data.status, "PENDING");
    assert(!(await slots()).some((x) => x.startAppointment === second.startAppointment), "the slot is taken");
  });

  await t.step(
    "a taken slot or a start that is no slot's is 409 APP_003 naming startAppointment",
    async () => {
      const taken = await bookSlot(otherPatient.token, {
        doctorId: doctor.id,
        startAppointment: at(7, 9, 20),
      });
      assertNames(taken, 409, "APP_003", "startAppointment");
      assertProblem(
        await bookSlot(otherPatient.token, { doctorId: doctor.id, startAppointment: at(7, 9, 5) }),
        409,
        "APP_003",
      );
      assertProblem(
        await bookSlot(otherPatient.token, { doctorId: doctor.id, startAppointment: at(7, 12) }),
        409,
        "APP_003",
      );
    },
  );

  await t.step("bad input names the field; an unknown doctor is 404", async () => {
    assertMissingFields(await bookSlot(patient.token, { startAppointment: at(7, 10) }), "doctorId");
    assertMissingFields(await bookSlot(patient.token, { doctorId: doctor.id }), "startAppointment");
    assertFieldErrors(
      await bookSlot(patient.token, { doctorId: doctor.id, startAppointment: "mañana" }),
      "startAppointment",
    );
    const noPatient = await bookSlot(doctor.token, { doctorId: doctor.id, startAppointment: at(7, 10) });
    assertNames(noPatient, 400, "VAL_002", "patientId");
    assertProblem(
      await bookSlot(patient.token, { doctorId: crypto.randomUUID(), startAppointment: at(7, 10) }),
      404,
      "RES_001",
    );
  });

  await t.step("a patient cannot book a slot for another patient (403); an admin can", async () => {
    assertProblem(
      await bookSlot(patient.token, {
        patientId: otherPatient.id,
        doctorId: doctor.id,
        startAppointment: at(7, 10),
      }),
      403,
      "AUTH_002",
    );
    const res = await bookSlot(admin.token, {
      patientId: otherPatient.id,
      doctorId: doctor.id,
      startAppointment: at(7, 10),
    });
    assertOk(res, 201);
    assertEquals(res.body.data.endAppointment, at(7, 10, 20));
  });
});

testBothDrivers(
  "lists: includeTotal counts what the caller may see, under the same filters",
  async (t, s) => {
    const admin = await createUser(s, "admin");
    const doctorA = await createUser(s, "doctor");
    const doctorB = await createUser(s, "doctor");
    const p1 = await registerPatient(s, doctorA, "Pablo");
    const p2 = await registerPatient(s, doctorA, "Pedro");
    const p3 = await registerPatient(s, doctorB, "Paula");
    const bookings: Array<[string, typeof doctorA, number]> = [
      [p1.id, doctorA, 9],
      [p1.id, doctorA, 10],
      [p2.id, doctorA, 11],
      [p3.id, doctorB, 9],
      [p3.id, doctorB, 10],
    ];
    for (const [patientId, doctor, hour] of bookings) {
      const res = await book(s, admin.token, {
        patientId,
        doctorId: doctor.id,
        specialtyId: await specialtyOf(s, doctor),
        start: at(4, hour),
        end: at(4, hour, 30),
      });
      assertOk(res, 201);
    }
    const list = async (token: string, query: string) => {
      const res = await call(s, "GET", `/v1/appointments?${query}`, { token });
      assertOk(res);
      return res.body;
    };

    await t.step("appointments: each doctor's total is their own rows; the page stays one row", async () => {
      const a = await list(doctorA.token, "includeTotal=true&limit=1");
      assertEquals(a.pageInfo.total, 3);
      assertEquals(a.data.length, 1);
      assert(a.pageInfo.nextCursor, "more pages");
      const next = await list(doctorA.token, `includeTotal=true&limit=1&cursor=${a.pageInfo.nextCursor}`);
      assertEquals(next.pageInfo.total, 3, "the total ignores the cursor");
      assertEquals((await list(doctorB.token, "includeTotal=true")).pageInfo.total, 2);
      assertEquals((await list(p1.token, "includeTotal=true")).pageInfo.total, 2);
      assertEquals((await list(admin.token, "includeTotal=true")).pageInfo.total, 5);
      assertEquals((await list(admin.token, `includeTotal=true&doctorId=${doctorB.id}`)).pageInfo.total, 2);
      assertEquals((await list(doctorA.token, `includeTotal=true&from=${at(4, 10)}`)).pageInfo.total, 2);
      assertEquals(
        (await list(doctorA.token, `includeTotal=true&doctorId=${doctorB.id}`)).pageInfo.total,
        0,
        "another doctor's rows are not counted",
      );
      const without = await list(doctorA.token, "limit=1");
      assert(!("total" in without.pageInfo), "no count unless asked");
    });

    await t.step("patients: a doctor counts their own patients, a patient themself", async () => {
      const patients = async (token: string) => {
        const res = await call(s, "GET", "/v1/patients?includeTotal=true&limit=1", { token });
        assertOk(res);
        return res.body.pageInfo.total;
      };
      assertEquals(await patients(doctorA.token), 2);
      assertEquals(await patients(doctorB.token), 1);
      assertEquals(await patients(p3.token), 1);
      assertEquals(await patients(admin.token), 3);
      const searched = await call(s, "GET", "/v1/patients?includeTotal=true&search=Pedro", {
        token: doctorA.token,
      });
      assertEquals(searched.body.pageInfo.total, 1);
    });

    await t.step("includeTotal is true or false; anything else is 400 naming it", async () => {
      assertFieldErrors(
        await call(s, "GET", "/v1/appointments?includeTotal=yes", { token: doctorA.token }),
        "includeTotal",
      );
      assertFieldErrors(
        await call(s, "GET", "/v1/patients?includeTotal=1", { token: doctorA.token }),
        "includeTotal",
      );
      assertProblem(await call(s, "GET", "/v1/appointments?includeTotal=true"), 401, "AUTH_001");
    });
  },
);

testBothDrivers("me: one's own contact fields, and a phone change confirmed by WhatsApp", async (t, s) => {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const patient = await registerPatient(s, admin, "Pablo");
  const other = await registerPatient(s, admin, "Paula");
  const otherSession = await login(s, patient.phone, PATIENT_PASSWORD);
  const edit = (token: string | undefined, body: unknown) => call(s, "PATCH", "/v1/user/me", { token, body });
  const flush = () => new Promise((resolve) => setTimeout(resolve, 30));
  const lastCode = () => /\b(\d{6})\b/.exec(s.outbox.at(-1)?.body ?? "")?.[1] ?? "";

  await t.step("a patient edits their e-mail and address; a doctor their e-mail only", async () => {
    const email = `pablo.${crypto.randomUUID().slice(0, 6)}@test.consultorio.dev`;
    const res = await edit(patient.token, { email, address: "Avenida Siempreviva 742" });
    assertOk(res);
    assertEquals(res.body.data.email, email);
    assertEquals(res.body.data.address, "Avenida Siempreviva 742");
    const read = await call(s, "GET", `/v1/patients/${patient.id}`, { token: patient.token });
    assertEquals(read.body.data.address, "Avenida Siempreviva 742");
    assertEquals(read.body.data.email, email);
    const doc = await edit(doctor.token, {
      email: `doc.${crypto.randomUUID().slice(0, 6)}@test.consultorio.dev`,
    });
    assertOk(doc);
    assertEquals(doc.body.data.address, null);
    assertFieldErrors(await edit(doctor.token, { address: "Calle del consultorio 1" }), "address");
  });

  await t.step("bad input names the field; a taken e-mail is 409; the phone is not edited here", async () => {
    assertFieldErrors(await edit(patient.token, { email: "no-es-un-correo" }), "email");
    assertFieldErrors(await edit(patient.token, { address: "x" }), "address");
    assertFieldErrors(await edit(patient.token, {}), "email");
    assertFieldErrors(await edit(patient.token, { email: "a@b.co", phone: "+5491199990000" }), "phone");
    const [{ email: theirs }] = await s.stack.deps.db.queryAsOwner<{ email: string }>(
      "select email from public.users where id = $1",
      [other.id],
    );
    assertNames(await edit(patient.token, { email: theirs }), 409, "RES_002", "email");
  });

  await t.step("nobody edits another user through it: no token 401, the admin route 403", async () => {
    assertProblem(await edit(undefined, { email: "a@b.co" }), 401, "AUTH_001");
    assertProblem(
      await call(s, "PATCH", `/v1/user/${other.id}`, { token: patient.token, body: { email: "x@y.co" } }),
      403,
      "AUTH_002",
    );
    const [row] = await s.stack.deps.db.queryAsOwner<{ address: string }>(
      "select address from public.patients where id = $1",
      [other.id],
    );
    assertEquals(row.address, "Calle Falsa 123");
  });

  const newPhone = `+54911${String(Date.now()).slice(-8)}`;
  await t.step("a phone change sends a code to the NEW number, stored only as an HMAC", async () => {
    assertFieldErrors(
      await call(s, "POST", "/v1/user/me/phone", { token: patient.token, body: { phone: "123" } }),
      "phone",
    );
    const res = await call(s, "POST", "/v1/user/me/phone", {
      token: patient.token,
      body: { phone: newPhone },
    });
    assertOk(res);
    assert(Date.parse(res.body.data.expiresAt) - Date.now() <= 10 * 60_000 + 5_000, "10 minutes");
    await flush();
    assertEquals(s.outbox.at(-1)?.to, newPhone);
    const code = lastCode();
    assertEquals(code.length, 6);
    const rows = await s.stack.deps.db.queryAsOwner<{ code_hash: string }>(
      "select code_hash from private.phone_change_codes where user_id = $1",
      [patient.id],
    );
    assertEquals(rows.length, 1);
    assert(!rows[0].code_hash.includes(code), "never the code itself");
  });

  await t.step("a wrong code, another number or another user's try is 400 AUTH_003 naming code", async () => {
    const code = lastCode();
    const confirm = (token: string, body: unknown) =>
      call(s, "POST", "/v1/user/me/phone/confirm", { token, body });
    assertNames(
      await confirm(patient.token, { phone: newPhone, code: code === "000000" ? "111111" : "000000" }),
      400,
      "AUTH_003",
      "code",
    );
    assertNames(await confirm(patient.token, { phone: "+5491177776666", code }), 400, "AUTH_003", "code");
    assertNames(await confirm(other.token, { phone: newPhone, code }), 400, "AUTH_003", "code");
    assertFieldErrors(await confirm(patient.token, { phone: newPhone, code: "12" }), "code");
    assertProblem(
      await call(s, "POST", "/v1/user/me/phone/confirm", { body: { phone: newPhone, code } }),
      401,
      "AUTH_001",
    );
  });

  await t.step("the right code changes the phone and ends the other sessions only", async () => {
    const res = await call(s, "POST", "/v1/user/me/phone/confirm", {
      token: patient.token,
      body: { phone: newPhone, code: lastCode() },
    });
    assertOk(res);
    assertEquals(res.body.data.phone, newPhone);
    assertOk(await call(s, "GET", "/v1/user/me", { token: patient.token }));
    assertProblem(await call(s, "GET", "/v1/user/me", { token: otherSession }), 401, "AUTH_001");
    assertOk(await call(s, "GET", "/v1/user/me", { token: other.token }));
    await login(s, newPhone, PATIENT_PASSWORD);
    const old = await call(s, "POST", "/v1/auth/login", {
      body: { phone: patient.phone, password: PATIENT_PASSWORD },
    });
    assertProblem(old, 401, "AUTH_001");
  });

  await t.step("another user's number is 409 naming phone; 5 wrong tries burn a code", async () => {
    assertNames(
      await call(s, "POST", "/v1/user/me/phone", { token: patient.token, body: { phone: other.phone } }),
      409,
      "RES_002",
      "phone",
    );
    const next = `+54911${String(Date.now() + 1).slice(-8)}`;
    assertOk(await call(s, "POST", "/v1/user/me/phone", { token: patient.token, body: { phone: next } }));
    await flush();
    const code = lastCode();
    const wrong = code === "000000" ? "111111" : "000000";
    for (let i = 0; i < 5; i++) {
      await call(s, "POST", "/v1/user/me/phone/confirm", {
        token: patient.token,
        body: { phone: next, code: wrong },
      });
    }
    assertNames(
      await call(s, "POST", "/v1/user/me/phone/confirm", {
        token: patient.token,
        body: { phone: next, code },
      }),
      400,
      "AUTH_003",
      "code",
    );
  });

  await t.step("codes are rate limited per user (3 an hour): the fourth is 429", async () => {
    const res = await call(s, "POST", "/v1/user/me/phone", {
      token: patient.token,
      body: { phone: `+54911${String(Date.now() + 2).slice(-8)}` },
    });
    assertProblem(res, 429, "RATE_001");
    assert(Number(res.headers.get("Retry-After")) > 0, "Retry-After");
  });
});
