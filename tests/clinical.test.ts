/**
 * The clinical core over real HTTP, on both drivers: patients and their
 * antecedents, appointments and their rules, clinic histories, the audit
 * log, and who sees what (decision 5): every attack fails, and the same
 * request succeeds for the rightful user.
 */
import { assertFieldErrors, assertOk, assertProblem } from "./helpers/assertions.ts";
import { at, book, clinicHistoryBody, registerPatient, specialtyOf } from "./helpers/clinic.ts";
import { assert, assertEquals, assertRejects } from "./helpers/std.ts";
import {
  call,
  createUser,
  PG_URL,
  startTestStack,
  testBothDrivers,
  type TestStack,
} from "./helpers/stack.ts";
import { verifyAccessToken } from "../shared/auth/jwt.ts";
import type { Claims, Queryable } from "../shared/db/database.ts";

testBothDrivers("clinical: patients, who sees them, and their antecedents", async (t, s) => {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const stranger = await createUser(s, "doctor");
  const patient = await registerPatient(s, admin, "Pablo");
  const other = await registerPatient(s, admin, "Paula");
  const specialtyId = await specialtyOf(s, doctor);

  await t.step(
    "a patient cannot register patients (403); a doctor can, and becomes their doctor",
    async () => {
      const body = {
        email: "nuevo@test.dev",
        name: "Nuevo",
        lastName: "Paciente",
        phone: "+5491166660000",
        address: "Calle 1 234",
      };
      assertProblem(await call(s, "POST", "/v1/patients", { token: patient.token, body }), 403, "AUTH_002");
      const res = await call(s, "POST", "/v1/patients", { token: doctor.token, body });
      assertOk(res, 201);
      assertEquals(res.body.data.address, "Calle 1 234");
      assertOk(await call(s, "GET", `/v1/patients/${res.body.data.id}`, { token: doctor.token }));
      assertProblem(
        await call(s, "GET", `/v1/patients/${res.body.data.id}`, { token: stranger.token }),
        404,
        "RES_001",
      );
    },
  );

  await t.step("a duplicate phone or email is 409 RES_002 naming the field", async () => {
    const res = await call(s, "POST", "/v1/patients", {
      token: admin.token,
      body: {
        email: "otro@test.dev",
        name: "Otro",
        lastName: "Más",
        phone: patient.phone,
        address: "Calle 2 345",
      },
    });
    assertProblem(res, 409, "RES_002");
    assertEquals(res.body.errors[0].field, "phone");
  });

  await t.step("bad input names the fields", async () => {
    assertFieldErrors(
      await call(s, "POST", "/v1/patients", {
        token: admin.token,
        body: {
          email: "x",
          name: "A",
          lastName: "",
          phone: "123",
          address: "abc",
          gender: "other",
          birthDate: "1990-13-45",
        },
      }),
      "email",
      "name",
      "lastName",
      "phone",
      "address",
      "gender",
      "birthDate",
    );
  });

  await t.step("a patient reads themself, never another patient (404)", async () => {
    const self = await call(s, "GET", `/v1/patients/${patient.id}`, { token: patient.token });
    assertOk(self);
    assertEquals(self.body.data.birthDate, "1990-05-15T00:00:00.000Z");
    assertProblem(await call(s, "GET", `/v1/patients/${other.id}`, { token: patient.token }), 404, "RES_001");
    const list = await call(s, "GET", "/v1/patients", { token: patient.token });
    assertEquals(list.body.data.map((p: { id: string }) => p.id), [patient.id]);
  });

  await t.step("a doctor sees a patient only once they have an appointment with them", async () => {
    assertProblem(
      await call(s, "GET", `/v1/patients/${patient.id}`, { token: doctor.token }),
      404,
      "RES_001",
    );
    assertOk(
      await book(s, admin.token, {
        patientId: patient.id,
        doctorId: doctor.id,
        specialtyId,
        start: at(3, 12),
        end: at(3, 12, 30),
      }),
      201,
    );
    assertOk(await call(s, "GET", `/v1/patients/${patient.id}`, { token: doctor.token }));
    const list = await call(s, "GET", "/v1/patients", { token: doctor.token });
    const ids = list.body.data.map((p: { id: string }) => p.id);
    assert(ids.includes(patient.id) && !ids.includes(other.id));
    assertProblem(
      await call(s, "GET", `/v1/patients/${patient.id}`, { token: stranger.token }),
      404,
      "RES_001",
    );
  });

  await t.step(
    "updating: a patient is refused (403), a stranger doctor gets 404, their doctor updates",
    async () => {
      const body = { address: "Nueva dirección 99" };
      assertProblem(
        await call(s, "PATCH", `/v1/patients/${patient.id}`, { token: patient.token, body }),
        403,
        "AUTH_002",
      );
      assertProblem(
        await call(s, "PATCH", `/v1/patients/${patient.id}`, { token: stranger.token, body }),
        404,
        "RES_001",
      );
      const res = await call(s, "PATCH", `/v1/patients/${patient.id}`, {
        token: doctor.token,
        body: { ...body, name: "Pablo José" },
      });
      assertOk(res);
      assertEquals(res.body.data.address, "Nueva dirección 99");
      assertEquals(res.body.data.name, "Pablo José");
    },
  );

  await t.step("antecedents: an admin is refused (403), a stranger doctor gets 404", async () => {
    assertProblem(
      await call(s, "GET", `/v1/patients/${patient.id}/antecedents`, { token: admin.token }),
      403,
      "AUTH_002",
    );
    assertProblem(
      await call(s, "GET", `/v1/patients/${patient.id}/antecedents`, { token: stranger.token }),
      404,
      "RES_001",
    );
    assertProblem(
      await call(s, "PUT", `/v1/patients/${patient.id}/antecedents`, {
        token: stranger.token,
        body: { allergies: ["x"] },
      }),
      404,
      "RES_001",
    );
  });

  await t.step(
    "antecedents: their doctor replaces the whole set, the patient reads it but cannot write",
    async () => {
      const first = await call(s, "PUT", `/v1/patients/${patient.id}/antecedents`, {
        token: doctor.token,
        body: {
          allergies: ["penicilina", "maní"],
          medications: ["aspirina"],
          familyHistory: ["hipertensión"],
        },
      });
      assertOk(first);
      const second = await call(s, "PUT", `/v1/patients/${patient.id}/antecedents`, {
        token: doctor.token,
        body: { allergies: ["penicilina"], medicalHistory: ["diabetes tipo 2"] },
      });
      assertEquals(second.body.data.medications, [], "an omitted list is replaced by an empty one");
      const read = await call(s, "GET", `/v1/patients/${patient.id}/antecedents`, { token: patient.token });
      assertOk(read);
      assertEquals(read.body.data.allergies, ["penicilina"]);
      assertEquals(read.body.data.medicalHistory, ["diabetes tipo 2"]);
      assertProblem(
        await call(s, "PUT", `/v1/patients/${patient.id}/antecedents`, {
          token: patient.token,
          body: { allergies: [] },
        }),
        403,
        "AUTH_002",
      );
      assertFieldErrors(
        await call(s, "PUT", `/v1/patients/${patient.id}/antecedents`, {
          token: doctor.token,
          body: { allergies: "penicilina" },
        }),
        "allergies",
      );
    },
  );

  await t.step(
    "deleting: a doctor is refused (403); the admin's delete hides the patient from lists",
    async () => {
      assertProblem(
        await call(s, "DELETE", `/v1/patients/${other.id}`, { token: doctor.token }),
        403,
        "AUTH_002",
      );
      assertEquals((await call(s, "DELETE", `/v1/patients/${other.id}`, { token: admin.token })).status, 204);
      const list = await call(s, "GET", "/v1/patients?limit=200", { token: admin.token });
      assert(!list.body.data.some((p: { id: string }) => p.id === other.id));
      assertProblem(await call(s, "GET", `/v1/patients/${other.id}`, { token: admin.token }), 404, "RES_001");
      assertProblem(await call(s, "GET", "/v1/user/me", { token: other.token }), 401, "AUTH_001");
    },
  );
});

testBothDrivers("clinical: appointments and their rules", async (t, s) => {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const other = await createUser(s, "doctor");
  const patient = await registerPatient(s, admin);
  const someoneElse = await registerPatient(s, admin);
  const specialtyId = await specialtyOf(s, doctor);
  const slot = (days: number, hour: number) => ({
    patientId: patient.id,
    doctorId: doctor.id,
    specialtyId,
    start: at(days, hour),
    end: at(days, hour, 30),
  });
  let appointmentId = "";

  await t.step("a patient books for themself; the answer has the contract's shape", async () => {
    const res = await book(s, patient.token, slot(5, 10));
    assertOk(res, 201);
    const a = res.body.data;
    assertEquals(a.status, "PENDING");
    assertEquals(a.patient.id, patient.id);
    assertEquals(a.doctor.id, doctor.id);
    assertEquals(a.doctor.specialty, "Test specialty");
    assertEquals(a.startAppointment, at(5, 10));
    appointmentId = a.id;
  });

  await t.step("a patient cannot book for another patient (403); the admin can", async () => {
    const forOther = { ...slot(5, 11), patientId: someoneElse.id };
    assertProblem(await book(s, patient.token, forOther), 403, "AUTH_002");
    assertOk(await book(s, admin.token, forOther), 201);
  });

  await t.step("bad times, unknown people and a double booking are refused with their codes", async () => {
    assertFieldErrors(await book(s, patient.token, { ...slot(6, 10), end: at(6, 9) }), "endAppointment");
    assertFieldErrors(await book(s, patient.token, { ...slot(-1, 10) }), "startAppointment");
    const noDoctor = await book(s, patient.token, { ...slot(6, 10), doctorId: crypto.randomUUID() });
    assertProblem(noDoctor, 404, "RES_001");
    assertEquals(noDoctor.body.errors[0].field, "doctorId");
    const notADoctor = await book(s, patient.token, { ...slot(6, 10), doctorId: admin.id });
    assertProblem(notADoctor, 404, "RES_001");
    const noSpecialty = await book(s, patient.token, { ...slot(6, 10), specialtyId: crypto.randomUUID() });
    assertProblem(noSpecialty, 404, "RES_001");
    assertEquals(noSpecialty.body.errors[0].field, "specialtyId");
    const overlap = await book(s, admin.token, { ...slot(5, 10), patientId: someoneElse.id });
    assertProblem(overlap, 409, "APP_001");
    assertFieldErrors(
      await call(s, "POST", "/v1/appointments", {
        token: patient.token,
        body: { patientId: "nope", reason: "x" },
      }),
      "patientId",
      "doctorId",
      "startAppointment",
      "reason",
    );
  });

  await t.step(
    "who sees it: its patient, its doctor, an admin; never another patient or doctor (404)",
    async () => {
      for (const token of [patient.token, doctor.token, admin.token]) {
        assertOk(await call(s, "GET", `/v1/appointments/${appointmentId}`, { token }));
      }
      for (const token of [someoneElse.token, other.token]) {
        assertProblem(await call(s, "GET", `/v1/appointments/${appointmentId}`, { token }), 404, "RES_001");
      }
      const theirs = await call(s, "GET", "/v1/appointments", { token: someoneElse.token });
      assert(theirs.body.data.every((a: { patientId: string }) => a.patientId === someoneElse.id));
      const byPatient = await call(s, "GET", `/v1/patients/${patient.id}/appointments`, {
        token: other.token,
      });
      assertProblem(byPatient, 404, "RES_001");
      const own = await call(s, "GET", `/v1/patients/${patient.id}/appointments`, { token: patient.token });
      assertEquals(own.body.data.map((a: { id: string }) => a.id), [appointmentId]);
    },
  );

  await t.step("filters: status, doctor and a date range", async () => {
    const res = await call(
      s,
      "GET",
      `/v1/appointments?status=PENDING&doctorId=${doctor.id}&from=${at(5, 0)}&to=${at(6, 0)}`,
      {
        token: admin.token,
      },
    );
    assertOk(res);
    assertEquals(res.body.data.length, 2);
    const none = await call(s, "GET", `/v1/appointments?status=COMPLETED`, { token: admin.token });
    assertEquals(none.body.data.length, 0);
    assertFieldErrors(
      await call(s, "GET", "/v1/appointments?status=DONE&from=ayer", { token: admin.token }),
      "status",
      "from",
    );
  });

  await t.step(
    "status: PENDING cannot jump to COMPLETED, a patient cannot confirm, the doctor can",
    async () => {
      const patch = (token: string, status: string) =>
        call(s, "PATCH", `/v1/appointments/${appointmentId}`, { token, body: { status } });
      assertProblem(await patch(doctor.token, "COMPLETED"), 400, "APP_002");
      assertProblem(await patch(patient.token, "CONFIRMED"), 403, "AUTH_002");
      assertProblem(await patch(other.token, "CONFIRMED"), 404, "RES_001");
      const confirmed = await patch(doctor.token, "CONFIRMED");
      assertOk(confirmed);
      assertEquals(confirmed.body.data.status, "CONFIRMED");
    },
  );

  await t.step("rescheduling moves the time; into another appointment it is 409 APP_001", async () => {
    const moved = await call(s, "PATCH", `/v1/appointments/${appointmentId}`, {
      token: patient.token,
      body: { startAppointment: at(5, 14), endAppointment: at(5, 14, 30) },
    });
    assertOk(moved);
    assertEquals(moved.body.data.startAppointment, at(5, 14));
    await book(s, admin.token, { ...slot(5, 15), patientId: someoneElse.id });
    const clash = await call(s, "PATCH", `/v1/appointments/${appointmentId}`, {
      token: patient.token,
      body: { startAppointment: at(5, 15), endAppointment: at(5, 15, 30) },
    });
    assertProblem(clash, 409, "APP_001");
  });

  await t.step("cancelling: once, and never an appointment that has started", async () => {
    assertProblem(
      await call(s, "POST", `/v1/appointments/${appointmentId}/cancel`, { token: other.token }),
      404,
      "RES_001",
    );
    const cancelled = await call(s, "POST", `/v1/appointments/${appointmentId}/cancel`, {
      token: patient.token,
    });
    assertOk(cancelled);
    assertEquals(cancelled.body.data.status, "CANCELLED");
    assertProblem(
      await call(s, "POST", `/v1/appointments/${appointmentId}/cancel`, { token: patient.token }),
      400,
      "APP_002",
    );
    // its time is free again
    assertOk(await book(s, admin.token, { ...slot(5, 14), patientId: someoneElse.id }), 201);

    const started = await book(s, admin.token, slot(8, 10));
    await s.stack.deps.db.execScript(`
      alter table public.appointments disable trigger appointments_check;
      update public.appointments set starts_at = now() - interval '10 minutes', ends_at = now() + interval '20 minutes'
       where id = '${started.body.data.id}';
      alter table public.appointments enable trigger appointments_check;`);
    const late = await call(s, "POST", `/v1/appointments/${started.body.data.id}/cancel`, {
      token: patient.token,
    });
    assertProblem(late, 400, "APP_002");
  });
});

testBothDrivers("clinical: doctors' availability and free slots", async (t, s) => {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const patient = await registerPatient(s, admin);
  const specialtyId = await specialtyOf(s, doctor);
  await s.stack.deps.db.queryAsOwner("update public.clinic_settings set time_zone = 'UTC'");
  const day = new Date(at(7, 0));
  const weekday = ((day.getUTCDay() + 6) % 7) + 1;

  await t.step("only the doctor or an admin sets the weekly hours (a patient gets 403)", async () => {
    const body = { weeklyHours: [{ weekday, startTime: "09:00", endTime: "11:00", slotMinutes: 30 }] };
    const path = `/v1/doctors/${doctor.id}/availability/weekly-hours`;
    assertProblem(await call(s, "PUT", path, { token: patient.token, body }), 403, "AUTH_002");
    const res = await call(s, "PUT", path, { token: doctor.token, body });
    assertOk(res);
    assertEquals(res.body.data.weeklyHours, body.weeklyHours);
    assertEquals(res.body.data.timeZone, "UTC");
    assertFieldErrors(
      await call(s, "PUT", path, {
        token: doctor.token,
        body: { weeklyHours: [{ weekday: 8, startTime: "9am", endTime: "08:00" }] },
      }),
      "weeklyHours[0].weekday",
      "weeklyHours[0].startTime",
    );
  });

  await t.step("slots are the hours cut into 30-minute pieces", async () => {
    const res = await call(s, "GET", `/v1/doctors/${doctor.id}/slots?from=${at(7, 0)}&to=${at(8, 0)}`, {
      token: patient.token,
    });
    assertOk(res);
    assertEquals(res.body.data.map((x: { startsAt: string }) => x.startsAt), [
      at(7, 9),
      at(7, 9, 30),
      at(7, 10),
      at(7, 10, 30),
    ]);
  });

  await t.step("a booking outside the hours is 409 APP_003; inside, it takes its slot", async () => {
    const outside = await book(s, patient.token, {
      patientId: patient.id,
      doctorId: doctor.id,
      specialtyId,
      start: at(7, 12),
      end: at(7, 12, 30),
    });
    assertProblem(outside, 409, "APP_003");
    assertOk(
      await book(s, patient.token, {
        patientId: patient.id,
        doctorId: doctor.id,
        specialtyId,
        start: at(7, 9, 30),
        end: at(7, 10),
      }),
      201,
    );
    const res = await call(s, "GET", `/v1/doctors/${doctor.id}/slots?from=${at(7, 0)}&to=${at(8, 0)}`, {
      token: patient.token,
    });
    assertEquals(res.body.data.length, 3);
    assert(!res.body.data.some((x: { startsAt: string }) => x.startsAt === at(7, 9, 30)));
  });

  await t.step("a day off removes its slots; extra hours add some", async () => {
    const off = await call(s, "POST", `/v1/doctors/${doctor.id}/availability/exceptions`, {
      token: doctor.token,
      body: { kind: "unavailable", startsAt: at(7, 10), endsAt: at(7, 11), note: "congreso" },
    });
    assertOk(off, 201);
    await call(s, "POST", `/v1/doctors/${doctor.id}/availability/exceptions`, {
      token: admin.token,
      body: { kind: "available", startsAt: at(7, 15), endsAt: at(7, 16) },
    });
    const res = await call(s, "GET", `/v1/doctors/${doctor.id}/slots?from=${at(7, 0)}&to=${at(8, 0)}`, {
      token: patient.token,
    });
    assertEquals(res.body.data.map((x: { startsAt: string }) => x.startsAt), [
      at(7, 9),
      at(7, 15),
      at(7, 15, 30),
    ]);
    assertProblem(
      await call(s, "DELETE", `/v1/doctors/${doctor.id}/availability/exceptions/${off.body.data.id}`, {
        token: patient.token,
      }),
      403,
      "AUTH_002",
    );
    assertEquals(
      (await call(s, "DELETE", `/v1/doctors/${doctor.id}/availability/exceptions/${off.body.data.id}`, {
        token: doctor.token,
      })).status,
      204,
    );
  });

  await t.step("the booking form's lists: doctors and specialties, without contact details", async () => {
    const doctors = await call(s, "GET", "/v1/doctors", { token: patient.token });
    assertOk(doctors);
    const found = doctors.body.data.find((d: { id: string }) => d.id === doctor.id);
    assertEquals(Object.keys(found).sort(), ["id", "lastName", "name", "specialty", "specialtyId"]);
    assertProblem(await call(s, "GET", `/v1/user/${doctor.id}`, { token: patient.token }), 404, "RES_001");
    assertOk(await call(s, "GET", "/v1/specialties", { token: patient.token }));
    assertFieldErrors(
      await call(s, "GET", `/v1/doctors/${doctor.id}/slots?from=${at(1, 0)}&to=${at(40, 0)}`, {
        token: patient.token,
      }),
      "to",
    );
  });
});

testBothDrivers("clinical: clinic histories, written once by the appointment's doctor", async (t, s) => {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const colleague = await createUser(s, "doctor");
  const patient = await registerPatient(s, admin);
  const other = await registerPatient(s, admin);
  const specialtyId = await specialtyOf(s, doctor);
  const appointment = await book(s, admin.token, {
    patientId: patient.id,
    doctorId: doctor.id,
    specialtyId,
    start: at(2, 10),
    end: at(2, 10, 30),
  });
  const appointmentId = appointment.body.data.id;
  const count = async () =>
    (await s.stack.deps.db.queryAsOwner<{ n: number }>(
      `select (select count(*) from public.clinic_histories)
            + (select count(*) from public.prescription_medications)
            + (select count(*) from public.clinic_history_vital_signs) as n`,
    ))[0].n;
  let historyId = "";

  await t.step("an invalid medication writes nothing (400 naming it)", async () => {
    const body = clinicHistoryBody(appointmentId);
    body.prescription.medications.push({ ...body.prescription.medications[0], quantity: 0 });
    const res = await call(s, "POST", "/v1/clinic-histories", { token: doctor.token, body });
    assertFieldErrors(res, "prescription.medications[1].quantity");
    assertEquals(Number(await count()), 0);
  });

  await t.step("a part the database refuses rolls the whole history back", async () => {
    const claims = (await verifyAccessToken(doctor.token, s.stack.config.jwt))! as Claims;
    const body = clinicHistoryBody(appointmentId);
    body.prescription.medications[0].quantity = 0;
    const error = await assertRejects(() =>
      s.stack.deps.db.queryAsCaller(claims, "select app.create_clinic_history($1::text::jsonb)", [
        JSON.stringify(body),
      ])
    ) as { code?: string };
    assertEquals(error.code, "23514");
    assertEquals(Number(await count()), 0);
  });

  await t.step(
    "only the appointment's doctor writes it: a patient and an admin get 403, a colleague 404",
    async () => {
      const body = clinicHistoryBody(appointmentId);
      assertProblem(
        await call(s, "POST", "/v1/clinic-histories", { token: patient.token, body }),
        403,
        "AUTH_002",
      );
      assertProblem(
        await call(s, "POST", "/v1/clinic-histories", { token: admin.token, body }),
        403,
        "AUTH_002",
      );
      assertProblem(
        await call(s, "POST", "/v1/clinic-histories", { token: colleague.token, body }),
        404,
        "RES_001",
      );
      assertEquals(Number(await count()), 0);
    },
  );

  await t.step("the doctor writes it in one go, answered in the contract's shape", async () => {
    const res = await call(s, "POST", "/v1/clinic-histories", {
      token: doctor.token,
      body: clinicHistoryBody(appointmentId),
    });
    assertOk(res, 201);
    const h = res.body.data;
    historyId = h.id;
    assertEquals(h.appointmentId, appointmentId);
    assertEquals(h.patientId, patient.id);
    assertEquals(h.doctorId, doctor.id);
    assertEquals(h.specialtyId, specialtyId);
    assertEquals(h.symptoms, ["dolor de cabeza", "mareos"]);
    assertEquals(h.diagnostics[0].name, "Migraña");
    assertEquals(h.vitalSigns.map((v: { name: string }) => v.name), ["Presión arterial", "Temperatura"]);
    assertEquals(h.vitalSigns[0].description, undefined);
    assertEquals(h.vitalSigns[1].description, "tomada en consulta");
    assertEquals(h.prescription.medications[0].quantity, 20);
    assertEquals(h.prescription.medications[0].administrationRoute, "Oral");
    assertEquals(h.patient.id, patient.id);
    assertEquals(h.doctor.specialty, "Test specialty");
    for (const key of ["id", "createdAt", "updatedAt"]) assert(h.prescription.medications[0][key]);
  });

  await t.step("one per appointment: a second is 409 RES_002 naming appointmentId", async () => {
    const res = await call(s, "POST", "/v1/clinic-histories", {
      token: doctor.token,
      body: clinicHistoryBody(appointmentId),
    });
    assertProblem(res, 409, "RES_002");
    assertEquals(res.body.errors[0].field, "appointmentId");
  });

  await t.step(
    "readers: the patient and their doctor; never an admin (403), another patient or doctor (404)",
    async () => {
      assertOk(await call(s, "GET", `/v1/clinic-histories/${historyId}`, { token: patient.token }));
      assertOk(await call(s, "GET", `/v1/clinic-histories/${historyId}`, { token: doctor.token }));
      assertProblem(
        await call(s, "GET", `/v1/clinic-histories/${historyId}`, { token: admin.token }),
        403,
        "AUTH_002",
      );
      assertProblem(await call(s, "GET", "/v1/clinic-histories", { token: admin.token }), 403, "AUTH_002");
      assertProblem(
        await call(s, "GET", `/v1/clinic-histories/${historyId}`, { token: other.token }),
        404,
        "RES_001",
      );
      assertProblem(
        await call(s, "GET", `/v1/clinic-histories/${historyId}`, { token: colleague.token }),
        404,
        "RES_001",
      );
      const list = await call(s, "GET", `/v1/patients/${patient.id}/clinic-histories`, {
        token: patient.token,
      });
      assertEquals(list.body.data.map((h: { id: string }) => h.id), [historyId]);
      assertProblem(
        await call(s, "GET", `/v1/patients/${patient.id}/clinic-histories`, { token: colleague.token }),
        404,
        "RES_001",
      );
      assertEquals(
        (await call(s, "GET", "/v1/clinic-histories", { token: other.token })).body.data.length,
        0,
      );
    },
  );

  await t.step("a colleague who books the patient then reads the patient's whole record", async () => {
    assertOk(
      await book(s, admin.token, {
        patientId: patient.id,
        doctorId: colleague.id,
        specialtyId,
        start: at(4, 10),
        end: at(4, 10, 30),
      }),
      201,
    );
    assertOk(await call(s, "GET", `/v1/clinic-histories/${historyId}`, { token: colleague.token }));
  });

  await t.step("the audit log records reads and writes, without content, for admins only", async () => {
    assertProblem(await call(s, "GET", "/v1/audit-events", { token: doctor.token }), 403, "AUTH_002");
    const res = await call(s, "GET", `/v1/audit-events?resourceId=${historyId}&limit=200`, {
      token: admin.token,
    });
    assertOk(res);
    const events = res.body.data as Array<{ action: string; actorId: string; resourceType: string }>;
    assert(events.some((e) => e.action === "create" && e.actorId === doctor.id));
    assert(events.some((e) => e.action === "read" && e.actorId === patient.id));
    assert(events.some((e) => e.action === "read" && e.actorId === colleague.id));
    assert(events.every((e) => e.resourceType === "clinic_history"));
    assert(!JSON.stringify(res.body).includes("Migraña"), "no content in the audit log");
    const byUser = await call(s, "GET", `/v1/audit-events?userId=${patient.id}&limit=200`, {
      token: admin.token,
    });
    assert(byUser.body.data.every((e: { actorId: string }) => e.actorId === patient.id));
  });
});

testBothDrivers(
  "clinical: 100 concurrent bookings of one slot: one wins, 99 get 409 APP_001",
  async (t, s) => {
    const admin = await createUser(s, "admin");
    const doctor = await createUser(s, "doctor");
    const specialtyId = await specialtyOf(s, doctor);
    const patients = await Promise.all(Array.from({ length: 5 }, () => registerPatient(s, admin)));

    await t.step("exactly one 201 and one row", async () => {
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) =>
        book(s, admin.token, {
          patientId: patients[i % patients.length].id,
          doctorId: doctor.id,
          specialtyId,
          start: at(9, 10),
          end: at(9, 10, 30),
        })));
      const statuses = results.map((r) => r.status);
      assertEquals(statuses.filter((x) => x === 201).length, 1, `statuses: ${[...new Set(statuses)]}`);
      const answers = results.map((r) => `${r.status} ${r.body?.code ?? ""}`);
      assertEquals(statuses.filter((x) => x === 409).length, 99, `answers: ${[...new Set(answers)]}`);
      assert(results.filter((r) => r.status === 409).every((r) => r.body.code === "APP_001"));
      const [{ n }] = await s.stack.deps.db.queryAsOwner<{ n: number }>(
        "select count(*)::int as n from public.appointments where doctor_id = $1",
        [doctor.id],
      );
      assertEquals(n, 1);
    });
  },
);

/** Runs `write` in a transaction as `claims` and keeps it open until `commit()`. */
function openTransaction(s: TestStack, claims: Claims, write: (tx: Queryable) => Promise<unknown>) {
  let commit!: () => void;
  const committed = new Promise<void>((resolve) => commit = resolve);
  let written!: () => void;
  const wrote = new Promise<void>((resolve) => written = resolve);
  const done = s.stack.deps.db.asCaller(claims, async (tx) => {
    await write(tx);
    written();
    await committed;
  });
  const ready = Promise.race([wrote, done.then(() => Promise.reject(new Error("ended before commit")))]);
  return { ready, commit, done };
}

/** Transactions waiting for a doctor's schedule lock (app.lock_doctor_schedule: class 1001). */
async function scheduleLockWaiters(s: TestStack): Promise<number> {
  const [{ n }] = await s.stack.deps.db.queryAsOwner<{ n: number }>(
    `select count(*)::int as n from pg_locks
      where locktype = 'advisory' and classid = 1001 and not granted
        and database = (select oid from pg_database where datname = current_database())`,
  );
  return n;
}

async function untilScheduleLockWaiters(s: TestStack, n: number) {
  const deadline = Date.now() + 5_000;
  while (await scheduleLockWaiters(s) !== n) {
    if (Date.now() > deadline) throw new Error(`no ${n} waiter(s) for the doctor's schedule lock`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test({
  name: "clinical: a doctor's schedule has one writer at a time, so bookings never deadlock [postgres]",
  // Two transactions at once need a server: PGlite runs one at a time.
  ignore: !PG_URL,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const s = await startTestStack("postgres");
    const openWriters: Array<{ commit(): void; done: Promise<unknown> }> = [];
    try {
      const admin = await createUser(s, "admin");
      const doctor = await createUser(s, "doctor");
      const otherDoctor = await createUser(s, "doctor");
      const specialtyId = await specialtyOf(s, doctor);
      const patient = await registerPatient(s, admin);
      const adminClaims = (await verifyAccessToken(admin.token, s.stack.config.jwt))! as Claims;

      const openWriter = (write: (tx: Queryable) => Promise<unknown>) => {
        const writer = openTransaction(s, adminClaims, write);
        openWriters.push(writer);
        return writer;
      };
      const waitersForTheLock = () => scheduleLockWaiters(s);
      const untilWaiters = (n: number) => untilScheduleLockWaiters(s, n);
      const slot = { patientId: patient.id, specialtyId, start: at(6, 15), end: at(6, 15, 30) };

      await t.step(
        "a second booking of the slot waits for the first to commit, then gets 409; another doctor's does not wait",
        async () => {
          const first = openWriter((tx) =>
            tx.query(
              `insert into public.appointments
               (patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, created_by)
             values ($1, $2, $3, 'Control general', $4, $5, auth.uid())`,
              [patient.id, doctor.id, specialtyId, slot.start, slot.end],
            )
          );
          await first.ready;
          const second = book(s, admin.token, { ...slot, doctorId: doctor.id });
          await untilWaiters(1);

          // Meanwhile another doctor's booking does not wait.
          assertOk(await book(s, admin.token, { ...slot, doctorId: otherDoctor.id }), 201);

          first.commit();
          await first.done;
          assertProblem(await second, 409, "APP_001");
          assertEquals(await waitersForTheLock(), 0);
        },
      );

      await t.step(
        "two replacements of the weekly hours run one after the other; the last wins",
        async () => {
          const path = `/v1/doctors/${doctor.id}/availability/weekly-hours`;
          const mornings = [{ weekday: 2, startTime: "09:00", endTime: "12:00", slotMinutes: 30 }];
          const evenings = [{ weekday: 2, startTime: "11:00", endTime: "14:00", slotMinutes: 30 }];
          const first = openWriter(async (tx) => {
            await tx.query("select app.lock_doctor_schedule($1)", [doctor.id]);
            await tx.query(
              `insert into public.doctor_weekly_hours (doctor_id, weekday, start_time, end_time, slot_minutes)
             values ($1, 2, '09:00', '12:00', 30)`,
              [doctor.id],
            );
          });
          await first.ready;
          const second = call(s, "PUT", path, { token: doctor.token, body: { weeklyHours: evenings } });
          await untilWaiters(1);
          first.commit();
          await first.done;
          const res = await second;
          assertOk(res);
          assertEquals(res.body.data.weeklyHours, evenings);
          assert(JSON.stringify(res.body.data.weeklyHours) !== JSON.stringify(mornings));
        },
      );
    } finally {
      // A failed step must not leave its transaction open: closing would wait for it.
      for (const writer of openWriters) writer.commit();
      await Promise.allSettled(openWriters.map((w) => w.done));
      await s.close();
    }
  },
});

testBothDrivers("clinical: walking 500 appointments by cursor returns each once", async (t, s) => {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const patient = await registerPatient(s, admin);
  const specialtyId = await specialtyOf(s, doctor);
  await s.stack.deps.db.queryAsOwner(
    `insert into public.appointments (patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, created_by)
     select $1, $2, $3, 'Control', now() + interval '1 day' + g * interval '30 minutes',
            now() + interval '1 day' + g * interval '30 minutes' + interval '20 minutes', $4
       from generate_series(1, 500) g`,
    [patient.id, doctor.id, specialtyId, admin.id],
  );

  await t.step("pages of 200 as the doctor: 500 distinct appointments in start order", async () => {
    const seen: Array<{ id: string; startAppointment: string }> = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `/v1/appointments?limit=200${cursor ? `&cursor=${cursor}` : ""}`;
      const res = await call(s, "GET", query, { token: doctor.token });
      assertOk(res);
      seen.push(...res.body.data);
      cursor = res.body.pageInfo.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    assertEquals(pages, 3);
    assertEquals(seen.length, 500);
    assertEquals(new Set(seen.map((a) => a.id)).size, 500);
    const starts = seen.map((a) => a.startAppointment);
    assertEquals(starts, [...starts].sort());
  });
});
