/**
 * The typed TypeScript client (clients/typescript/): its generated types match
 * the routes (a stale schema.d.ts fails; `deno task client` regenerates it),
 * and its example signs in and lists appointments against a real stack.
 */
import { generateSchema, SCHEMA_FILE } from "../clients/typescript/generate.ts";
import { upcomingAppointments } from "../clients/typescript/example.ts";
import { at, book, PATIENT_PASSWORD, registerPatient, specialtyOf } from "./helpers/clinic.ts";
import { assert, assertEquals, assertRejects } from "./helpers/std.ts";
import { createUser, testBothDrivers } from "./helpers/stack.ts";

Deno.test("client: the committed schema.d.ts is the one the routes generate", async () => {
  const committed = await Deno.readTextFile(SCHEMA_FILE);
  const generated = await generateSchema();
  assert(generated.includes('"/api/v1/appointments"'), "the generated types lack the appointments path");
  assert(
    committed === generated,
    "clients/typescript/schema.d.ts is stale: run `deno task client` and commit it",
  );
});

testBothDrivers("client: the example signs in and lists the caller's appointments", async (t, s) => {
  const functionsUrl = `${s.origin}/functions/v1`;
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor", { name: "Diego", lastName: "Doctor" });
  const patient = await registerPatient(s, admin, "Pablo");
  const booked = await book(s, patient.token, {
    patientId: patient.id,
    doctorId: doctor.id,
    specialtyId: await specialtyOf(s, doctor),
    start: at(3, 10),
    end: at(3, 10, 30),
  });
  assertEquals(booked.status, 201);

  await t.step("its typed calls reach the API and read the envelope", async () => {
    const { user, appointments, nextCursor } = await upcomingAppointments(
      functionsUrl,
      patient.phone,
      PATIENT_PASSWORD,
    );
    assertEquals(user.role, "patient");
    assertEquals(appointments.map((a) => a.id), [booked.body.data.id]);
    assertEquals(appointments[0].status, "PENDING");
    assert(appointments[0].doctor.startsWith("Diego Doctor ("), appointments[0].doctor);
    assertEquals(nextCursor, null);
  });

  await t.step("an error answer arrives as the typed ProblemDetails", async () => {
    const error = await assertRejects(() =>
      upcomingAppointments(functionsUrl, patient.phone, "not-the-password")
    );
    assert(String(error).includes("401 AUTH_001"), String(error));
  });
});
