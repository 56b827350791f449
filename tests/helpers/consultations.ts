/** A consultation's people, opened through the API, and Storage as each of them sees it. */
import { createClient } from "@supabase/supabase-js";
import { at, book, registerPatient, specialtyOf, type TestPatient } from "./clinic.ts";
import { assertEquals } from "./std.ts";
import { call, createUser, type TestStack, type TestUser } from "./stack.ts";

export interface ConsultationFixture {
  admin: TestUser;
  doctor: TestUser;
  patient: TestPatient;
  otherPatient: TestPatient;
  appointmentId: string;
}

/** A doctor and their patient with a CONFIRMED appointment (booked and confirmed through the API). */
export async function consultationFixture(s: TestStack, day = 2): Promise<ConsultationFixture> {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const patient = await registerPatient(s, admin, "Pablo");
  const otherPatient = await registerPatient(s, admin, "Paula");
  const booked = await book(s, admin.token, {
    patientId: patient.id,
    doctorId: doctor.id,
    specialtyId: await specialtyOf(s, doctor),
    start: at(day, 10),
    end: at(day, 10, 30),
  });
  assertEquals(booked.status, 201, JSON.stringify(booked.body));
  const confirmed = await call(s, "PATCH", `/v1/appointments/${booked.body.data.id}`, {
    token: doctor.token,
    body: { status: "CONFIRMED" },
  });
  assertEquals(confirmed.status, 200, JSON.stringify(confirmed.body));
  return { admin, doctor, patient, otherPatient, appointmentId: booked.body.data.id };
}

export async function openConsultation(s: TestStack, f: ConsultationFixture): Promise<string> {
  const res = await call(s, "POST", "/v1/consultations", {
    token: f.doctor.token,
    body: { appointmentId: f.appointmentId },
  });
  assertEquals(res.status, 201, JSON.stringify(res.body));
  return res.body.data.id;
}

/** Storage as a frontend signed in with `token` uses it (anon key + the user's JWT). */
export function storageAs(s: TestStack, token: string) {
  return createClient(s.origin, s.stack.anonKey, { accessToken: () => Promise.resolve(token) }).storage;
}
