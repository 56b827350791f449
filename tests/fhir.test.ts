/**
 * The FHIR R4 face (shared/modules/fhir): the export of a patient's record
 * under the same row-level security as the REST reads, each resource valid
 * by Medplum's validator, the import of a transaction Bundle (all or
 * nothing, idempotent by identifiers) and its refusals as OperationOutcomes.
 */
import { createClient } from "@supabase/supabase-js";
import fc from "fast-check";
import { toResources } from "../shared/modules/fhir/fhir.mappers.ts";
import {
  at,
  book,
  clinicHistoryBody,
  registerPatient,
  specialtyOf,
  startLiveConsultation,
} from "./helpers/clinic.ts";
import { conditionAbout, fhirErrors } from "./helpers/fhir.ts";
import { recordSensitive } from "./helpers/log-audit.ts";
import { assert, assertEquals } from "./helpers/std.ts";
import {
  call,
  createUser,
  testBothDrivers,
  type TestStack,
  type TestUser,
  uniquePhone,
} from "./helpers/stack.ts";

const FHIR = "application/fhir+json";

// deno-lint-ignore no-explicit-any
type Json = any;

async function fhirCall(
  s: TestStack,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  type = FHIR,
) {
  return await call(s, method, path, {
    token,
    ...(body !== undefined ? { rawBody: JSON.stringify(body), headers: { "Content-Type": type } } : {}),
  });
}

/** A patient of `doctor` with a confirmed appointment and its clinic history (diagnosis, vitals, prescription). */
async function patientWithHistory(s: TestStack, doctor: TestUser, day = 3) {
  const patient = await registerPatient(s, doctor, "Fhir");
  const booked = await book(s, doctor.token, {
    patientId: patient.id,
    doctorId: doctor.id,
    specialtyId: await specialtyOf(s, doctor),
    start: at(day, 15),
    end: at(day, 15, 30),
  });
  assertEquals(booked.status, 201, JSON.stringify(booked.body));
  const history = await call(s, "POST", "/v1/clinic-histories", {
    token: doctor.token,
    body: clinicHistoryBody(booked.body.data.id),
  });
  assertEquals(history.status, 201, JSON.stringify(history.body));
  const antecedents = await call(s, "PUT", `/v1/patients/${patient.id}/antecedents`, {
    token: doctor.token,
    body: {
      allergies: ["Penicilina"],
      medications: ["Losartán"],
      medicalHistory: ["Hipertensión"],
      familyHistory: ["Diabetes"],
    },
  });
  assertEquals(antecedents.status, 200);
  return patient;
}

function assertOutcome(
  res: { status: number; headers: Headers; body: Json },
  status: number,
  expression?: string,
) {
  assertEquals(res.status, status, JSON.stringify(res.body));
  assert(res.headers.get("content-type")?.startsWith(FHIR), res.headers.get("content-type") ?? "");
  assertEquals(res.body.resourceType, "OperationOutcome");
  assertEquals(fhirErrors(res.body), []);
  if (expression) {
    const named = res.body.issue.flatMap((i: { expression?: string[] }) => i.expression ?? []);
    assert(named.includes(expression), `${expression} not in ${JSON.stringify(named)}`);
  }
}

function transaction(phone: string, system = "urn:oid:1.2.3.4", mrn = crypto.randomUUID()): Json {
  // What the log audit must never find in a log line: the imported patient's identity.
  recordSensitive(phone, mrn, `${mrn.slice(0, 8)}@ext.example`, "Importada", "Av. Siempreviva 742");
  return {
    resourceType: "Bundle",
    type: "transaction",
    entry: [
      {
        fullUrl: "urn:uuid:11111111-1111-4111-8111-111111111111",
        resource: {
          resourceType: "Patient",
          identifier: [{ system, value: mrn }],
          name: [{ family: "Importada", given: ["Ana"] }],
          telecom: [{ system: "phone", value: phone }, {
            system: "email",
            value: `${mrn.slice(0, 8)}@ext.example`,
          }],
          gender: "female",
          birthDate: "1980-02-03",
          address: [{ line: ["Av. Siempreviva 742"], city: "Springfield" }],
        },
        request: { method: "POST", url: "Patient" },
      },
      {
        resource: {
          resourceType: "Condition",
          identifier: [{ system, value: `${mrn}-c1` }],
          code: { text: "Asma" },
          subject: { reference: "urn:uuid:11111111-1111-4111-8111-111111111111" },
        },
        request: { method: "POST", url: "Condition" },
      },
      {
        resource: {
          resourceType: "Observation",
          identifier: [{ system, value: `${mrn}-o1` }],
          status: "final",
          category: [{
            coding: [{
              system: "http://terminology.hl7.org/CodeSystem/observation-category",
              code: "vital-signs",
            }],
          }],
          code: {
            coding: [{ system: "http://loinc.org", code: "8867-4", display: "Heart rate" }],
            text: "Heart rate",
          },
          subject: { reference: "urn:uuid:11111111-1111-4111-8111-111111111111" },
          effectiveDateTime: "2025-06-01T10:00:00Z",
          valueQuantity: { value: 72, unit: "/min", system: "http://unitsofmeasure.org", code: "/min" },
        },
        request: { method: "POST", url: "Observation" },
      },
    ],
  };
}

testBothDrivers("fhir: export, read by id, capability statement, under the same rules", async (t, s) => {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const otherDoctor = await createUser(s, "doctor");
  const patient = await patientWithHistory(s, doctor);
  const other = await registerPatient(s, otherDoctor, "Otra");

  await t.step("metadata is public and a valid CapabilityStatement", async () => {
    const res = await fhirCall(s, "GET", "/v1/fhir/metadata");
    assertEquals(res.status, 200);
    assertEquals(res.body.resourceType, "CapabilityStatement");
    assertEquals(fhirErrors(res.body), []);
  });

  let bundle: Json;
  await t.step("the doctor's export is a valid searchset Bundle with every kind of resource", async () => {
    const res = await fhirCall(s, "GET", `/v1/fhir/Patient/${patient.id}/$everything`, doctor.token);
    assertEquals(res.status, 200, JSON.stringify(res.body));
    assert(res.headers.get("content-type")?.startsWith(FHIR));
    bundle = res.body;
    assertEquals(bundle.type, "searchset");
    assertEquals(fhirErrors(bundle), []);
    const types = new Set(bundle.entry.map((e: Json) => e.resource.resourceType));
    for (
      const type of [
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "Appointment",
        "Condition",
        "Observation",
        "MedicationRequest",
        "AllergyIntolerance",
        "MedicationStatement",
        "FamilyMemberHistory",
      ]
    ) assert(types.has(type), `no ${type}`);
    const bp = bundle.entry.map((e: Json) => e.resource).find((r: Json) =>
      r.code?.coding?.[0]?.code === "85354-9"
    );
    assertEquals(bp.component.map((c: Json) => c.code.coding[0].code), ["8480-6", "8462-4"]);
    assertEquals(bp.component[0].valueQuantity, {
      value: 120,
      unit: "mmHg",
      system: "http://unitsofmeasure.org",
      code: "mm[Hg]",
    });
    const temp = bundle.entry.map((e: Json) => e.resource).find((r: Json) =>
      r.code?.coding?.[0]?.code === "8310-5"
    );
    assertEquals(temp.valueQuantity.code, "Cel");
    assertEquals(temp.category[0].coding[0].code, "vital-signs");
  });

  await t.step("the patient gets their own record; every resource reads back by id", async () => {
    const res = await fhirCall(s, "GET", `/v1/fhir/Patient/${patient.id}/$everything`, patient.token);
    assertEquals(res.status, 200);
    assertEquals(res.body.total, bundle.total);
    for (const entry of res.body.entry.slice(0, 12)) {
      const r = entry.resource;
      const one = await fhirCall(s, "GET", `/v1/fhir/${r.resourceType}/${r.id}`, patient.token);
      assertEquals(one.status, 200, `${r.resourceType}/${r.id} ${JSON.stringify(one.body)}`);
      assertEquals(one.body, r);
    }
  });

  await t.step("another doctor and another patient get 404; an admin 403; nobody 401", async () => {
    assertOutcome(
      await fhirCall(s, "GET", `/v1/fhir/Patient/${patient.id}/$everything`, otherDoctor.token),
      404,
    );
    assertOutcome(await fhirCall(s, "GET", `/v1/fhir/Patient/${patient.id}/$everything`, other.token), 404);
    assertOutcome(await fhirCall(s, "GET", `/v1/fhir/Patient/${patient.id}/$everything`, admin.token), 403);
    const condition = bundle.entry.find((e: Json) => e.resource.resourceType === "Condition").resource;
    assertOutcome(await fhirCall(s, "GET", `/v1/fhir/Condition/${condition.id}`, otherDoctor.token), 404);
    assertOutcome(await fhirCall(s, "GET", `/v1/fhir/Condition/${condition.id}`, admin.token), 403);
    const unauth = await fhirCall(s, "GET", `/v1/fhir/Patient/${patient.id}/$everything`);
    assertEquals(unauth.status, 401);
  });

  await t.step("every export that answers is in the audit log", async () => {
    const rows = await s.stack.deps.db.queryAsOwner<{ n: number }>(
      `select count(*)::int as n from public.audit_events
        where actor_id = $1 and action = 'read' and resource_type = 'patient' and resource_id = $2`,
      [doctor.id, patient.id],
    );
    assert(rows[0].n >= 1);
    const none = await s.stack.deps.db.queryAsOwner<{ n: number }>(
      "select count(*)::int as n from public.audit_events where actor_id = $1 and resource_id = $2",
      [otherDoctor.id, patient.id],
    );
    assertEquals(none[0].n, 0);
  });

  await t.step("an unknown resource type is a 400 OperationOutcome", async () => {
    assertOutcome(await fhirCall(s, "GET", `/v1/fhir/Basic/${patient.id}`, doctor.token), 400, "type");
  });
});

testBothDrivers(
  "fhir: a live consultation exports as an Encounter, its file and its recording consents",
  async (t, s) => {
    const admin = await createUser(s, "admin");
    const doctor = await createUser(s, "doctor");
    const live = await startLiveConsultation(s, { admin, doctor }, new Date(Date.now() + 2 * 60_000));
    const bytes = new TextEncoder().encode("Resultados de laboratorio: normales.\n");
    const prepared = await call(s, "POST", `/v1/consultations/${live.id}/files/prepare`, {
      token: live.patient.token,
      body: { filename: "laboratorio.txt", mimeType: "text/plain", sizeBytes: bytes.length },
    });
    assertEquals(prepared.status, 201, JSON.stringify(prepared.body));
    const { fileId, objectKey, uploadUrl } = prepared.body.data;
    const storage =
      createClient(s.origin, s.stack.anonKey, { accessToken: () => Promise.resolve(live.patient.token) })
        .storage;
    const uploaded = await storage.from("consultation-files").uploadToSignedUrl(
      objectKey,
      new URL(uploadUrl).searchParams.get("token")!,
      new Blob([bytes], { type: "text/plain" }),
    );
    assertEquals(uploaded.error, null);
    const confirmed = await call(s, "POST", `/v1/consultations/${live.id}/files/confirm`, {
      token: live.patient.token,
      body: { fileId },
    });
    assertEquals(confirmed.status, 201, JSON.stringify(confirmed.body));
    const consultation = await call(s, "GET", `/v1/consultations/${live.id}`, { token: doctor.token });
    const history = await call(s, "POST", "/v1/clinic-histories", {
      token: doctor.token,
      body: clinicHistoryBody(consultation.body.data.appointmentId),
    });
    assertEquals(history.status, 201, JSON.stringify(history.body));
    for (const token of [doctor.token, live.patient.token]) {
      const consent = await call(s, "POST", `/v1/consultations/${live.id}/recording/consent`, {
        token,
        body: { granted: true },
      });
      assertEquals(consent.status, 200, JSON.stringify(consent.body));
    }

    await t.step(
      "the export holds the Encounter, a DocumentReference with a signed URL, two Consents",
      async () => {
        const res = await fhirCall(
          s,
          "GET",
          `/v1/fhir/Patient/${live.patient.id}/$everything`,
          live.patient.token,
        );
        assertEquals(res.status, 200, JSON.stringify(res.body));
        assertEquals(fhirErrors(res.body), []);
        const resources: Json[] = res.body.entry.map((e: Json) => e.resource);
        const encounter = resources.find((r) => r.resourceType === "Encounter");
        assertEquals(encounter.id, live.id);
        assertEquals(encounter.status, "in-progress");
        assertEquals(encounter.statusHistory.map((h: Json) => h.status), ["arrived", "in-progress"]);
        assertEquals(encounter.reasonCode, [{ text: history.body.data.consultationReason }]);
        const diagnosis = resources.find((r) => r.resourceType === "Condition" && r.encounter);
        assertEquals(diagnosis.encounter.reference, `Encounter/${live.id}`);
        const doc = resources.find((r) => r.resourceType === "DocumentReference");
        assertEquals(doc.id, fileId);
        const attachment = doc.content[0].attachment;
        recordSensitive(attachment.url);
        assertEquals(attachment.data, undefined);
        assertEquals(attachment.size, bytes.length);
        const download = await fetch(attachment.url);
        assertEquals(new Uint8Array(await download.arrayBuffer()), bytes);
        const consents = resources.filter((r) => r.resourceType === "Consent");
        assertEquals(consents.map((c) => c.provision.type), ["permit", "permit"]);
        const one = await fhirCall(s, "GET", `/v1/fhir/Consent/${consents[0].id}`, doctor.token);
        assertEquals(one.status, 200, JSON.stringify(one.body));
        assertEquals(one.body.id, consents[0].id);
      },
    );

    await t.step(
      "an admin gets 403 for the Encounter and the file; the patient's other doctors 404",
      async () => {
        assertOutcome(await fhirCall(s, "GET", `/v1/fhir/Encounter/${live.id}`, admin.token), 403);
        assertOutcome(await fhirCall(s, "GET", `/v1/fhir/DocumentReference/${fileId}`, admin.token), 403);
        const stranger = await createUser(s, "doctor");
        assertOutcome(await fhirCall(s, "GET", `/v1/fhir/DocumentReference/${fileId}`, stranger.token), 404);
      },
    );
  },
);

testBothDrivers("fhir: import a transaction Bundle, all or nothing, idempotent", async (t, s) => {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const otherDoctor = await createUser(s, "doctor");
  const phone = uniquePhone();
  const body = transaction(phone);
  const count = async () =>
    (await s.stack.deps.db.queryAsOwner<{ n: number }>(
      `select ((select count(*) from public.users) + (select count(*) from public.imported_vital_signs)
            + (select count(*) from public.fhir_source_identifiers))::int as n`,
    ))[0].n;

  let patientId = "";
  await t.step("a doctor imports a patient, a Condition and a vital sign", async () => {
    const res = await fhirCall(s, "POST", "/v1/fhir/Bundle", doctor.token, body);
    assertEquals(res.status, 201, JSON.stringify(res.body));
    assertEquals(res.body.type, "transaction-response");
    assertEquals(fhirErrors(res.body), []);
    assertEquals(res.body.entry.map((e: Json) => e.response.status), [
      "201 Created",
      "201 Created",
      "201 Created",
    ]);
    patientId = res.body.entry[0].response.location.split("/")[1];
    const exp = await fhirCall(s, "GET", `/v1/fhir/Patient/${patientId}/$everything`, doctor.token);
    assertEquals(fhirErrors(exp.body), []);
    const resources = exp.body.entry.map((e: Json) => e.resource);
    assert(resources.some((r: Json) => r.resourceType === "Condition" && r.code.text === "Asma"));
    const hr = resources.find((r: Json) => r.resourceType === "Observation");
    assertEquals(hr.code.coding[0].code, "8867-4");
    assertEquals(hr.valueQuantity.value, 72);
    assert(resources[0].identifier.some((i: Json) => i.system === "urn:oid:1.2.3.4"));
  });

  await t.step("the same Bundle again creates nothing new", async () => {
    const before = await count();
    const res = await fhirCall(s, "POST", "/v1/fhir/Bundle", doctor.token, body);
    assertEquals(res.status, 200, JSON.stringify(res.body));
    assertEquals(res.body.entry.map((e: Json) => e.response.status), ["200 OK", "200 OK", "200 OK"]);
    assertEquals(await count(), before);
  });

  await t.step("a bad unit names its element, and nothing is written", async () => {
    const bad = transaction(uniquePhone());
    bad.entry[2].resource.valueQuantity = { value: 72 } as Json;
    const before = await count();
    assertOutcome(
      await fhirCall(s, "POST", "/v1/fhir/Bundle", doctor.token, bad),
      400,
      "Bundle.entry[2].resource.valueQuantity.unit",
    );
    assertEquals(await count(), before);
  });

  await t.step("a database refusal late in the Bundle rolls back the patient written before it", async () => {
    const bad = transaction(uniquePhone());
    // Each entry passes the parser, but the antecedents hold at most 100 entries: the database refuses the
    // 101st after the patient was written, and the patient goes with it.
    const conditions = Array.from({ length: 101 }, (_, i) => ({
      resource: {
        resourceType: "Condition",
        code: { text: `Antecedente ${i}` },
        subject: { reference: "urn:uuid:11111111-1111-4111-8111-111111111111" },
      },
      request: { method: "POST", url: "Condition" },
    }));
    bad.entry.push(...conditions);
    const before = await count();
    const res = await fhirCall(s, "POST", "/v1/fhir/Bundle", doctor.token, bad);
    assertOutcome(res, 400, "Bundle.entry[1].resource");
    assertEquals(await count(), before);
  });

  await t.step(
    "unknown types, wrong versions, too big, references outside: 4xx, nothing written",
    async () => {
      const before = await count();
      const unknown = transaction(uniquePhone());
      (unknown.entry[1].resource as Json).resourceType = "Basic";
      assertOutcome(
        await fhirCall(s, "POST", "/v1/fhir/Bundle", doctor.token, unknown),
        400,
        "Bundle.entry[1].resource.resourceType",
      );
      assertOutcome(
        await fhirCall(
          s,
          "POST",
          "/v1/fhir/Bundle",
          doctor.token,
          transaction(uniquePhone()),
          `${FHIR}; fhirVersion=5.0`,
        ),
        415,
      );
      const r5 = transaction(uniquePhone());
      (r5.entry[0].resource as Json).meta = {
        profile: ["http://hl7.org/fhir/5.0/StructureDefinition/Patient"],
      };
      assertOutcome(
        await fhirCall(s, "POST", "/v1/fhir/Bundle", doctor.token, r5),
        400,
        "Bundle.entry[0].resource.meta.profile[0]",
      );
      const malformed = await call(s, "POST", "/v1/fhir/Bundle", {
        token: doctor.token,
        rawBody: "{oops",
        headers: { "Content-Type": FHIR },
      });
      assertOutcome(malformed, 400);
      assertOutcome(
        await fhirCall(s, "POST", "/v1/fhir/Bundle", doctor.token, transaction(uniquePhone()), "text/plain"),
        415,
      );
      const notBundle = { resourceType: "Patient", name: [{ family: "X" }] };
      assertOutcome(await fhirCall(s, "POST", "/v1/fhir/Bundle", doctor.token, notBundle), 400, "Bundle");
      const batch = { ...transaction(uniquePhone()), type: "batch" };
      assertOutcome(await fhirCall(s, "POST", "/v1/fhir/Bundle", doctor.token, batch), 400, "Bundle.type");
      const heavy = transaction(uniquePhone());
      heavy.entry[0].resource.text = { status: "generated", div: `<div>${"x".repeat(300_000)}</div>` };
      assertOutcome(await fhirCall(s, "POST", "/v1/fhir/Bundle", doctor.token, heavy), 413, "Bundle");
      const big = transaction(uniquePhone());
      big.entry.push(...Array.from({ length: 200 }, () => big.entry[1]));
      assertOutcome(await fhirCall(s, "POST", "/v1/fhir/Bundle", doctor.token, big), 413, "Bundle.entry");
      const outside = transaction(uniquePhone());
      outside.entry[1].resource.subject.reference = "urn:uuid:99999999-9999-4999-8999-999999999999";
      assertOutcome(
        await fhirCall(s, "POST", "/v1/fhir/Bundle", doctor.token, outside),
        400,
        "Bundle.entry[1].resource.subject.reference",
      );
      assertEquals(await count(), before);
    },
  );

  await t.step("entries about someone else's patient are refused; about one's own, taken", async () => {
    const before = await count();
    assertOutcome(
      await fhirCall(s, "POST", "/v1/fhir/Bundle", otherDoctor.token, conditionAbout(patientId)),
      404,
      "Bundle.entry[0].resource.subject.reference",
    );
    assertEquals(await count(), before);
    const res = await fhirCall(s, "POST", "/v1/fhir/Bundle", doctor.token, conditionAbout(patientId));
    assertEquals(res.status, 201, JSON.stringify(res.body));
  });

  await t.step("an admin imports a Patient but no clinical content; a patient nothing", async () => {
    const before = await count();
    assertOutcome(
      await fhirCall(s, "POST", "/v1/fhir/Bundle", admin.token, transaction(uniquePhone())),
      403,
      "Bundle.entry[1].resource",
    );
    assertEquals(await count(), before);
    const patientOnly = transaction(uniquePhone());
    patientOnly.entry.length = 1;
    const res = await fhirCall(s, "POST", "/v1/fhir/Bundle", admin.token, patientOnly);
    assertEquals(res.status, 201, JSON.stringify(res.body));
    const patient = await registerPatient(s, doctor, "Paciente");
    assertOutcome(
      await fhirCall(s, "POST", "/v1/fhir/Bundle", patient.token, transaction(uniquePhone())),
      403,
    );
    // The admin's patient (a user and its identifier) and the one registered here: nothing from the patient.
    assertEquals(await count(), before + 3);
  });
});

// ---------------------------------------------------------------------------
// Generated records: every optional field present and absent
// ---------------------------------------------------------------------------

const iso = fc.date({ min: new Date("2000-01-01"), max: new Date("2030-01-01"), noInvalidDate: true }).map((
  d,
) => d.toISOString());
const uuid = fc.uuid({ version: 4 });
const str = (max: number) => fc.string({ minLength: 1, maxLength: max }).filter((x) => x.trim().length > 0);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
const vitalNames = fc.constantFrom(
  "Presión arterial",
  "Frecuencia cardíaca",
  "Temperatura",
  "Frecuencia respiratoria",
  "Saturación de oxígeno",
  "Peso",
  "Talla",
  "Glucemia",
);
const vital = fc.record({
  id: uuid,
  name: fc.oneof(vitalNames, str(40)),
  value: fc.oneof(
    fc.constant("120/80"),
    fc.double({ min: 0, max: 500, noNaN: true }).map((n) => n.toFixed(1)),
    str(20),
  ),
  unit: fc.oneof(fc.constantFrom("mmHg", "lpm", "°C", "%", "kg", "cm", "rpm"), str(10)),
  measurement: maybe(str(40)),
  description: maybe(str(40)),
  loinc_code: fc.constant(null),
  effective_at: iso,
});

const record = fc.record({
  patient: fc.record({
    id: uuid,
    name: str(30),
    last_name: str(30),
    phone: fc.constant("+5491100000002"),
    email: fc.constant("a@b.co"),
    address: str(60),
    gender: fc.constantFrom("male", "female", null),
    birth_date: maybe(fc.constantFrom("1990-05-15", "2001-12-31")),
    is_active: fc.boolean(),
    updated_at: iso,
  }),
  identifiers: fc.array(
    fc.record({
      resource_type: fc.constant("Patient"),
      system: fc.constant("urn:oid:1.2.3"),
      value: str(20),
    }),
    { maxLength: 2 },
  ),
  practitioners: fc.array(
    fc.record({
      id: uuid,
      name: str(20),
      last_name: str(20),
      specialty_id: uuid,
      specialty: str(30),
      is_active: fc.boolean(),
    }),
    { maxLength: 2 },
  ),
  appointments: fc.array(
    fc.record({
      id: uuid,
      doctor_id: uuid,
      specialty_id: uuid,
      specialty: str(20),
      reason: str(50),
      status: fc.constantFrom("PENDING", "CONFIRMED", "CANCELLED", "COMPLETED"),
      starts_at: iso,
      ends_at: iso,
      created_at: iso,
    }),
    { maxLength: 3 },
  ),
  consultations: fc.array(
    fc.record({
      id: uuid,
      appointment_id: uuid,
      doctor_id: uuid,
      status: fc.constantFrom("waiting", "in_progress", "closed"),
      created_at: iso,
      checked_in_at: maybe(iso),
      started_at: maybe(iso),
      closed_at: maybe(iso),
    }),
    { maxLength: 3 },
  ),
  histories: fc.array(
    fc.record({
      id: uuid,
      appointment_id: uuid,
      doctor_id: uuid,
      created_at: iso,
      consultation_reason: str(60),
      encounter_id: maybe(uuid),
      diagnostics: fc.array(fc.record({ id: uuid, name: str(30), description: str(60), created_at: iso }), {
        maxLength: 2,
      }),
      vitals: fc.array(vital, { maxLength: 4 }),
      prescription: maybe(fc.record({
        id: uuid,
        name: str(30),
        description: str(30),
        medications: fc.array(
          fc.record({
            id: uuid,
            name: str(30),
            quantity: fc.integer({ min: 1, max: 100 }),
            unit: str(10),
            frequency: str(20),
            duration: str(20),
            indications: str(40),
            administration_route: str(10),
            description: maybe(str(30)),
          }),
          { minLength: 1, maxLength: 2 },
        ),
      })),
    }),
    { maxLength: 2 },
  ),
  antecedents: maybe(fc.record({
    allergies: fc.array(str(20), { maxLength: 2 }),
    medications: fc.array(str(20), { maxLength: 2 }),
    medical_history: fc.array(str(20), { maxLength: 2 }),
    family_history: fc.array(str(20), { maxLength: 2 }),
    updated_at: iso,
  })),
  importedVitals: fc.array(
    vital.map((v) => ({
      ...v,
      measurement: null,
      description: null,
      loinc_code: fc.sample(fc.constantFrom(null, "8867-4", "29463-7"), 1)[0],
    })),
    { maxLength: 2 },
  ),
  files: fc.array(
    fc.record({
      id: uuid,
      consultation_id: uuid,
      uploaded_by: uuid,
      filename: str(30),
      mime_type: fc.constantFrom("application/pdf", "image/png"),
      size_bytes: fc.integer({ min: 1, max: 1e7 }),
      created_at: iso,
    }),
    { maxLength: 2 },
  ),
  consents: fc.array(
    fc.record({ consultation_id: uuid, user_id: uuid, granted: fc.boolean(), updated_at: iso }),
    { maxLength: 2 },
  ),
});

Deno.test("fhir: generated records map to resources Medplum finds valid", () => {
  fc.assert(
    // A history's encounter is, when it has one, one of the record's consultations (as the query finds it).
    fc.property(
      record.map((r) => ({
        ...r,
        histories: r.histories.map((h, i) =>
          h.encounter_id && r.consultations[i] ? { ...h, encounter_id: r.consultations[i].id } : h
        ),
      })),
      (r) => {
        const resources = toResources(
          r as Json,
          Object.fromEntries(r.files.map((f) => [f.id, `https://x.test/${f.id}`])),
        );
        for (const resource of resources) {
          const errors = fhirErrors(resource);
          if (errors.length) {
            throw new Error(`${resource.resourceType}: ${errors.join("; ")}\n${JSON.stringify(resource)}`);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});
