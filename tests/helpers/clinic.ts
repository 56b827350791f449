/** Fixtures of the clinical core, created through the API as a clinic would. */
import { call, createUser, login, type TestStack, type TestUser, uniquePhone } from "./stack.ts";

export const PATIENT_PASSWORD = "tortuga-azul-del-rio-1";

export interface TestPatient {
  id: string;
  phone: string;
  token: string;
}

/** Registers a patient through POST /v1/patients (as `by`) and signs them in. */
export async function registerPatient(s: TestStack, by: TestUser, name = "Paciente"): Promise<TestPatient> {
  const phone = uniquePhone();
  const res = await call(s, "POST", "/v1/patients", {
    token: by.token,
    body: {
      email: `p.${crypto.randomUUID().slice(0, 8)}@test.consultorio.dev`,
      name,
      lastName: "Prueba",
      phone,
      address: "Calle Falsa 123",
      password: PATIENT_PASSWORD,
      gender: "female",
      birthDate: "1990-05-15",
    },
  });
  if (res.status !== 201) {
    throw new Error(`patient not registered: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return { id: res.body.data.id, phone, token: await login(s, phone, PATIENT_PASSWORD) };
}

/** Today plus `days`, at `hour`:`minute` UTC, as ISO. */
export function at(days: number, hour: number, minute = 0): string {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() + days);
  d.setUTCHours(hour, minute, 0, 0);
  return d.toISOString();
}

export async function specialtyOf(s: TestStack, doctor: TestUser): Promise<string> {
  const [row] = await s.stack.deps.db.queryAsOwner<{ specialty_id: string }>(
    "select specialty_id from public.users where id = $1",
    [doctor.id],
  );
  return row.specialty_id;
}

/** Books through POST /v1/appointments; answers the call's result. */
export async function book(
  s: TestStack,
  token: string,
  fields: { patientId: string; doctorId: string; specialtyId: string; start: string; end: string },
) {
  return await call(s, "POST", "/v1/appointments", {
    token,
    body: {
      patientId: fields.patientId,
      doctorId: fields.doctorId,
      specialtyId: fields.specialtyId,
      startAppointment: fields.start,
      endAppointment: fields.end,
      reason: "Control general",
    },
  });
}

export function clinicHistoryBody(appointmentId: string) {
  return {
    appointmentId,
    consultationReason: "Dolor de cabeza persistente desde hace 3 días",
    symptoms: ["dolor de cabeza", "mareos"],
    treatment: "Reposo, hidratación y medicamento para el dolor",
    diagnostics: [{ name: "Migraña", description: "Cefalea tensional" }],
    physicalExams: [{ name: "Examen neurológico", description: "Sin alteraciones" }],
    vitalSigns: [
      { name: "Presión arterial", value: "120/80", unit: "mmHg", measurement: "sistólica/diastólica" },
      {
        name: "Temperatura",
        value: "36.5",
        unit: "°C",
        measurement: "axilar",
        description: "tomada en consulta",
      },
    ],
    prescription: {
      name: "Receta para cefalea",
      description: "Tratamiento para dolor de cabeza",
      medications: [{
        name: "Paracetamol",
        quantity: 20,
        unit: "tabletas",
        frequency: "Cada 8 horas",
        duration: "5 días",
        indications: "Tomar con alimentos",
        administrationRoute: "Oral",
      }],
    },
  };
}

/**
 * A consultation in progress, as a clinic gets there through the API: `admin`
 * registers a patient and books them with `doctor` at `start` (30 minutes),
 * the doctor confirms and opens the consultation, the patient checks in, the
 * doctor starts it. Throws on any unexpected answer.
 */
export async function startLiveConsultation(
  s: TestStack,
  people: { admin: TestUser; doctor: TestUser; patientName?: string },
  start: Date,
): Promise<{ id: string; patient: TestPatient }> {
  const { admin, doctor } = people;
  const expect = (res: { status: number; body: unknown }, status: number, what: string) => {
    if (res.status !== status) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  const patient = await registerPatient(s, admin, people.patientName);
  const booked = await book(s, admin.token, {
    patientId: patient.id,
    doctorId: doctor.id,
    specialtyId: await specialtyOf(s, doctor),
    start: start.toISOString(),
    end: new Date(start.getTime() + 1_800_000).toISOString(),
  });
  expect(booked, 201, "book");
  const appointmentId = booked.body.data.id;
  expect(
    await call(s, "PATCH", `/v1/appointments/${appointmentId}`, {
      token: doctor.token,
      body: { status: "CONFIRMED" },
    }),
    200,
    "confirm",
  );
  const opened = await call(s, "POST", "/v1/consultations", { token: doctor.token, body: { appointmentId } });
  expect(opened, 201, "open the consultation");
  const id: string = opened.body.data.id;
  expect(
    await call(s, "POST", `/v1/consultations/${id}/check-in`, { token: patient.token }),
    200,
    "check in",
  );
  expect(await call(s, "POST", `/v1/consultations/${id}/start`, { token: doctor.token }), 200, "start");
  return { id, patient };
}

/** A doctor, their patient with an appointment in 3 days, its consultation (inserted as owner), an admin. */
export async function insertedConsultation(s: TestStack) {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const patient = await registerPatient(s, admin, "Pablo");
  const booked = await book(s, admin.token, {
    patientId: patient.id,
    doctorId: doctor.id,
    specialtyId: await specialtyOf(s, doctor),
    start: at(3, 10),
    end: at(3, 10, 30),
  });
  if (booked.status !== 201) throw new Error(`book: ${booked.status} ${JSON.stringify(booked.body)}`);
  const [row] = await s.stack.deps.db.queryAsOwner<{ id: string }>(
    `insert into public.consultations (appointment_id, doctor_id, patient_id) values ($1, $2, $3) returning id`,
    [booked.body.data.id, doctor.id, patient.id],
  );
  return { id: row.id, admin, doctor, patient };
}
