/**
 * Pure row → FHIR R4 resource functions. No I/O: the rows come from
 * fhir.queries.ts (already filtered by row-level security), the signed URLs
 * of files from the storage adapter. The README's FHIR section is the
 * mapping table.
 */

export const FHIR_JSON = "application/fhir+json";

/** The resource types the API answers (GET /v1/fhir/{type}/{id}, the CapabilityStatement). */
export const RESOURCE_TYPES = [
  "Patient",
  "Practitioner",
  "PractitionerRole",
  "Appointment",
  "Encounter",
  "Condition",
  "AllergyIntolerance",
  "MedicationStatement",
  "FamilyMemberHistory",
  "Observation",
  "MedicationRequest",
  "DocumentReference",
  "Consent",
] as const;
export type ReadableType = (typeof RESOURCE_TYPES)[number];
export const FHIR_VERSION = "4.0.1";

/** Our own code systems and identifier systems (URIs under the product's domain). */
export const SYSTEMS = {
  patientId: "https://consultorio.dev/fhir/sid/patient-id",
  userId: "https://consultorio.dev/fhir/sid/user-id",
  specialty: "https://consultorio.dev/fhir/CodeSystem/specialty",
  loinc: "http://loinc.org",
  ucum: "http://unitsofmeasure.org",
  observationCategory: "http://terminology.hl7.org/CodeSystem/observation-category",
  conditionCategory: "http://terminology.hl7.org/CodeSystem/condition-category",
  conditionClinical: "http://terminology.hl7.org/CodeSystem/condition-clinical",
  allergyClinical: "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
  actCode: "http://terminology.hl7.org/CodeSystem/v3-ActCode",
  consentScope: "http://terminology.hl7.org/CodeSystem/consentscope",
  consentCategory: "http://loinc.org",
  roleCode: "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
  practitionerRole: "http://terminology.hl7.org/CodeSystem/practitioner-role",
} as const;

// deno-lint-ignore no-explicit-any
export type Resource = { resourceType: string; id?: string; [key: string]: any };

export interface PatientRow {
  id: string;
  name: string;
  last_name: string;
  phone: string;
  email: string;
  address: string;
  gender: "male" | "female" | null;
  birth_date: string | null;
  is_active: boolean;
  updated_at: string;
}

export interface PractitionerRow {
  id: string;
  name: string;
  last_name: string;
  specialty_id: string;
  specialty: string;
  is_active: boolean;
}

export interface AppointmentRow {
  id: string;
  doctor_id: string;
  specialty_id: string;
  specialty: string;
  reason: string;
  status: "PENDING" | "CONFIRMED" | "CANCELLED" | "COMPLETED";
  starts_at: string;
  ends_at: string;
  created_at: string;
}

export interface ConsultationRow {
  id: string;
  appointment_id: string;
  doctor_id: string;
  status: "waiting" | "in_progress" | "closed";
  created_at: string;
  checked_in_at: string | null;
  started_at: string | null;
  closed_at: string | null;
}

export interface DiagnosticRow {
  id: string;
  name: string;
  description: string;
  created_at: string;
}

export interface VitalRow {
  id: string;
  name: string;
  value: string;
  unit: string;
  measurement: string | null;
  description: string | null;
  loinc_code?: string | null;
  effective_at: string;
}

export interface MedicationRow {
  id: string;
  name: string;
  quantity: number;
  unit: string;
  frequency: string;
  duration: string;
  indications: string;
  administration_route: string;
  description: string | null;
}

export interface HistoryRow {
  id: string;
  appointment_id: string;
  doctor_id: string;
  created_at: string;
  consultation_reason: string;
  encounter_id: string | null;
  diagnostics: DiagnosticRow[];
  vitals: VitalRow[];
  prescription: { id: string; name: string; description: string; medications: MedicationRow[] } | null;
}

export interface AntecedentsRow {
  allergies: string[];
  medications: string[];
  medical_history: string[];
  family_history: string[];
  updated_at: string;
}

export interface FileRow {
  id: string;
  consultation_id: string;
  uploaded_by: string;
  filename: string;
  mime_type: string;
  size_bytes: number | string;
  created_at: string;
}

export interface ConsentRow {
  consultation_id: string;
  user_id: string;
  granted: boolean;
  updated_at: string;
}

export interface SourceIdentifierRow {
  resource_type: string;
  system: string;
  value: string;
}

/** Everything one export reads: the one statement of fhir.queries.ts answers this. */
export interface PatientRecord {
  patient: PatientRow;
  identifiers: SourceIdentifierRow[];
  practitioners: PractitionerRow[];
  appointments: AppointmentRow[];
  consultations: ConsultationRow[];
  histories: HistoryRow[];
  antecedents: AntecedentsRow | null;
  importedVitals: VitalRow[];
  files: FileRow[];
  consents: ConsentRow[];
}

const ref = (type: string, id: string) => ({ reference: `${type}/${id}` });

/** A FHIR id of an antecedent entry, which has no id of its own: its list, position and patient. */
export const antecedentId = (kind: AntecedentKind, index: number, patientId: string) =>
  `${ANTECEDENT_PREFIX[kind]}${index}-${patientId}`;

export type AntecedentKind = "medical_history" | "allergies" | "medications" | "family_history";
export const ANTECEDENT_PREFIX: Record<AntecedentKind, string> = {
  medical_history: "mh",
  allergies: "al",
  medications: "md",
  family_history: "fh",
};

export function toPatient(row: PatientRow, identifiers: SourceIdentifierRow[] = []): Resource {
  return {
    resourceType: "Patient",
    id: row.id,
    meta: { lastUpdated: row.updated_at },
    identifier: [
      { system: SYSTEMS.patientId, value: row.id },
      ...identifiers.filter((i) => i.resource_type === "Patient").map((i) => ({
        system: i.system,
        value: i.value,
      })),
    ],
    active: row.is_active,
    name: [{ use: "official", family: row.last_name, given: [row.name] }],
    telecom: [
      { system: "phone", value: row.phone, use: "mobile" },
      { system: "email", value: row.email },
    ],
    ...(row.gender ? { gender: row.gender } : {}),
    ...(row.birth_date ? { birthDate: row.birth_date } : {}),
    address: [{ use: "home", text: row.address }],
  };
}

export function toPractitioner(row: PractitionerRow): Resource {
  return {
    resourceType: "Practitioner",
    id: row.id,
    identifier: [{ system: SYSTEMS.userId, value: row.id }],
    active: row.is_active,
    name: [{ family: row.last_name, given: [row.name], text: `${row.name} ${row.last_name}` }],
  };
}

/** The doctor's specialty: one PractitionerRole per doctor (its id is the doctor's). */
export function toPractitionerRole(row: PractitionerRow): Resource {
  return {
    resourceType: "PractitionerRole",
    id: row.id,
    active: row.is_active,
    practitioner: ref("Practitioner", row.id),
    code: [{ coding: [{ system: SYSTEMS.practitionerRole, code: "doctor", display: "Doctor" }] }],
    specialty: [specialtyConcept(row.specialty_id, row.specialty)],
  };
}

const specialtyConcept = (id: string, name: string) => ({
  coding: [{ system: SYSTEMS.specialty, code: id, display: name }],
  text: name,
});

const APPOINTMENT_STATUS = {
  PENDING: "proposed",
  CONFIRMED: "booked",
  CANCELLED: "cancelled",
  COMPLETED: "fulfilled",
} as const;

export function toAppointment(row: AppointmentRow, patientId: string): Resource {
  const status = APPOINTMENT_STATUS[row.status];
  return {
    resourceType: "Appointment",
    id: row.id,
    status,
    specialty: [specialtyConcept(row.specialty_id, row.specialty)],
    description: row.reason,
    start: row.starts_at,
    end: row.ends_at,
    created: row.created_at,
    participant: [
      {
        actor: ref("Patient", patientId),
        required: "required",
        status: status === "proposed" ? "needs-action" : status === "cancelled" ? "declined" : "accepted",
      },
      {
        actor: ref("Practitioner", row.doctor_id),
        required: "required",
        status: status === "cancelled" ? "declined" : "accepted",
      },
    ],
  };
}

const ENCOUNTER_STATUS = { waiting: "arrived", in_progress: "in-progress", closed: "finished" } as const;

/** A consultation; `reason` is its clinic history's consultation reason, when there is one. */
export function toEncounter(row: ConsultationRow, patientId: string, reason?: string): Resource {
  const history = [
    row.checked_in_at ? { status: "arrived", period: { start: row.checked_in_at } } : undefined,
    row.started_at
      ? {
        status: "in-progress",
        period: { start: row.started_at, ...(row.closed_at ? { end: row.closed_at } : {}) },
      }
      : undefined,
  ].filter((h) => h !== undefined);
  const start = row.started_at ?? row.checked_in_at ?? row.created_at;
  return {
    resourceType: "Encounter",
    id: row.id,
    status: row.status === "waiting" && !row.checked_in_at ? "planned" : ENCOUNTER_STATUS[row.status],
    ...(history.length ? { statusHistory: history } : {}),
    class: { system: SYSTEMS.actCode, code: "VR", display: "virtual" },
    subject: ref("Patient", patientId),
    participant: [{ individual: ref("Practitioner", row.doctor_id) }],
    appointment: [ref("Appointment", row.appointment_id)],
    period: { start, ...(row.closed_at ? { end: row.closed_at } : {}) },
    ...(reason ? { reasonCode: [{ text: reason }] } : {}),
  };
}

const concept = (system: string, code: string, display: string) => ({ coding: [{ system, code, display }] });

/** A diagnosis of a clinic history. */
export function toDiagnosisCondition(row: DiagnosticRow, history: HistoryRow, patientId: string): Resource {
  return {
    resourceType: "Condition",
    id: row.id,
    clinicalStatus: concept(SYSTEMS.conditionClinical, "active", "Active"),
    category: [concept(SYSTEMS.conditionCategory, "encounter-diagnosis", "Encounter Diagnosis")],
    code: { text: row.name },
    subject: ref("Patient", patientId),
    ...(history.encounter_id ? { encounter: ref("Encounter", history.encounter_id) } : {}),
    recordedDate: row.created_at,
    recorder: ref("Practitioner", history.doctor_id),
    note: [{ text: row.description }],
  };
}

/** The antecedents: medical history as Conditions, the rest as what FHIR calls them. */
export function toAntecedentResources(row: AntecedentsRow, patientId: string): Resource[] {
  const subject = ref("Patient", patientId);
  return [
    ...row.medical_history.map((text, i) => ({
      resourceType: "Condition",
      id: antecedentId("medical_history", i, patientId),
      clinicalStatus: concept(SYSTEMS.conditionClinical, "active", "Active"),
      category: [concept(SYSTEMS.conditionCategory, "problem-list-item", "Problem List Item")],
      code: { text },
      subject,
      recordedDate: row.updated_at,
    })),
    ...row.allergies.map((text, i) => ({
      resourceType: "AllergyIntolerance",
      id: antecedentId("allergies", i, patientId),
      clinicalStatus: concept(SYSTEMS.allergyClinical, "active", "Active"),
      code: { text },
      patient: subject,
      recordedDate: row.updated_at,
    })),
    ...row.medications.map((text, i) => ({
      resourceType: "MedicationStatement",
      id: antecedentId("medications", i, patientId),
      status: "active",
      medicationCodeableConcept: { text },
      subject,
      dateAsserted: row.updated_at,
    })),
    ...row.family_history.map((text, i) => ({
      resourceType: "FamilyMemberHistory",
      id: antecedentId("family_history", i, patientId),
      status: "completed",
      patient: subject,
      date: row.updated_at.slice(0, 10),
      relationship: concept(SYSTEMS.roleCode, "FAMMEMB", "family member"),
      condition: [{ code: { text } }],
    })),
  ];
}

// ---------------------------------------------------------------------------
// Vital signs: LOINC by name, UCUM by unit
// ---------------------------------------------------------------------------

interface Vital {
  code: string;
  display: string;
}

/** LOINC codes of the common vitals, found by the (Spanish or English) name a doctor writes. */
export const VITALS: { match: RegExp; vital: Vital }[] = [
  {
    match: /presi[oó]n|tensi[oó]n|blood pressure|^p\.?a\.?$|^t\.?a\.?$/i,
    vital: { code: "85354-9", display: "Blood pressure panel with all children optional" },
  },
  {
    match: /card[ií]aca|pulso|heart rate|^f\.?c\.?$|^pulse$/i,
    vital: { code: "8867-4", display: "Heart rate" },
  },
  { match: /temperatura|temperature|^temp\.?$/i, vital: { code: "8310-5", display: "Body temperature" } },
  { match: /respiratoria|respiratory|^f\.?r\.?$/i, vital: { code: "9279-1", display: "Respiratory rate" } },
  {
    match: /saturaci[oó]n|spo2|sao2|oxygen|ox[ií]geno/i,
    vital: { code: "59408-5", display: "Oxygen saturation in Arterial blood by Pulse oximetry" },
  },
  { match: /^peso$|weight|masa corporal/i, vital: { code: "29463-7", display: "Body weight" } },
  { match: /talla|altura|estatura|height/i, vital: { code: "8302-2", display: "Body height" } },
];

const BY_CODE: Record<string, Vital> = Object.fromEntries(VITALS.map(({ vital }) => [vital.code, vital]));
BY_CODE["2708-6"] = { code: "2708-6", display: "Oxygen saturation in Arterial blood" };
BY_CODE["8480-6"] = { code: "8480-6", display: "Systolic blood pressure" };
BY_CODE["8462-4"] = { code: "8462-4", display: "Diastolic blood pressure" };
export const KNOWN_LOINC: ReadonlySet<string> = new Set(Object.keys(BY_CODE));

export function vitalOf(name: string, loincCode?: string | null): Vital | undefined {
  if (loincCode) return BY_CODE[loincCode];
  return VITALS.find((v) => v.match.test(name.trim()))?.vital;
}

/** The UCUM code of a unit as doctors write it, when it is one we know. */
const UCUM: Record<string, string> = {
  "mmhg": "mm[Hg]",
  "mm hg": "mm[Hg]",
  "mm[hg]": "mm[Hg]",
  "lpm": "/min",
  "bpm": "/min",
  "ppm": "/min",
  "rpm": "/min",
  "/min": "/min",
  "latidos/min": "/min",
  "respiraciones/min": "/min",
  "°c": "Cel",
  "ºc": "Cel",
  "c": "Cel",
  "cel": "Cel",
  "°f": "[degF]",
  "[degf]": "[degF]",
  "%": "%",
  "kg": "kg",
  "g": "g",
  "lb": "[lb_av]",
  "[lb_av]": "[lb_av]",
  "cm": "cm",
  "m": "m",
  "in": "[in_i]",
  "[in_i]": "[in_i]",
};

export const ucumOf = (unit: string): string | undefined => UCUM[unit.trim().toLowerCase()];

const NUMBER = /^[+-]?\d+(\.\d+)?$/;

function quantity(value: string, unit: string) {
  const code = ucumOf(unit);
  return {
    value: Number(value),
    unit,
    ...(code ? { system: SYSTEMS.ucum, code } : {}),
  };
}

const VITAL_SIGNS_CATEGORY = [concept(SYSTEMS.observationCategory, "vital-signs", "Vital Signs")];

export function toObservation(
  row: VitalRow,
  patientId: string,
  context: { encounterId?: string | null; performerId?: string },
): Resource {
  const vital = vitalOf(row.name, row.loinc_code);
  const code = vital
    ? { coding: [{ system: SYSTEMS.loinc, code: vital.code, display: vital.display }], text: row.name }
    : { text: row.name };
  const bp = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)\s*$/.exec(row.value);
  let value: Record<string, unknown>;
  if (vital?.code === "85354-9" && bp) {
    const component = (loinc: string, v: string) => ({
      code: { coding: [{ system: SYSTEMS.loinc, code: loinc, display: BY_CODE[loinc].display }] },
      valueQuantity: quantity(v, row.unit),
    });
    value = { component: [component("8480-6", bp[1]), component("8462-4", bp[2])] };
  } else if (NUMBER.test(row.value.trim())) {
    value = { valueQuantity: quantity(row.value.trim(), row.unit) };
  } else {
    value = { valueString: `${row.value} ${row.unit}` };
  }
  const notes = [row.measurement, row.description].filter((n): n is string => !!n);
  return {
    resourceType: "Observation",
    id: row.id,
    status: "final",
    category: VITAL_SIGNS_CATEGORY,
    code,
    subject: ref("Patient", patientId),
    ...(context.encounterId ? { encounter: ref("Encounter", context.encounterId) } : {}),
    effectiveDateTime: row.effective_at,
    ...(context.performerId ? { performer: [ref("Practitioner", context.performerId)] } : {}),
    ...value,
    ...(notes.length ? { note: notes.map((text) => ({ text })) } : {}),
  };
}

export function toMedicationRequest(
  row: MedicationRow,
  history: HistoryRow,
  prescription: NonNullable<HistoryRow["prescription"]>,
  patientId: string,
): Resource {
  return {
    resourceType: "MedicationRequest",
    id: row.id,
    groupIdentifier: { system: "https://consultorio.dev/fhir/sid/prescription-id", value: prescription.id },
    status: "active",
    intent: "order",
    medicationCodeableConcept: { text: row.name },
    subject: ref("Patient", patientId),
    ...(history.encounter_id ? { encounter: ref("Encounter", history.encounter_id) } : {}),
    authoredOn: history.created_at,
    requester: ref("Practitioner", history.doctor_id),
    note: [
      { text: prescription.name },
      { text: prescription.description },
      ...(row.description ? [{ text: row.description }] : []),
    ],
    dosageInstruction: [{
      text: `${row.frequency}, ${row.duration}`,
      patientInstruction: row.indications,
      route: { text: row.administration_route },
    }],
    dispenseRequest: { quantity: { value: row.quantity, unit: row.unit } },
  };
}

export function toDocumentReference(
  row: FileRow,
  patientId: string,
  doctorId: string,
  url: string,
): Resource {
  return {
    resourceType: "DocumentReference",
    id: row.id,
    status: "current",
    subject: ref("Patient", patientId),
    date: row.created_at,
    author: [ref(row.uploaded_by === patientId ? "Patient" : "Practitioner", row.uploaded_by)],
    content: [{
      attachment: {
        contentType: row.mime_type,
        url,
        size: Number(row.size_bytes),
        title: row.filename,
        creation: row.created_at,
      },
    }],
    context: { encounter: [ref("Encounter", row.consultation_id)], related: [ref("Practitioner", doctorId)] },
  };
}

/** A party's consent to record a consultation: one per consultation and party (its doctor, its patient). */
export const consentId = (consultationId: string, party: "patient" | "doctor") =>
  `rc-${consultationId}-${party}`;

export function toConsent(row: ConsentRow, patientId: string): Resource {
  const party = row.user_id === patientId ? ref("Patient", row.user_id) : ref("Practitioner", row.user_id);
  return {
    resourceType: "Consent",
    id: consentId(row.consultation_id, row.user_id === patientId ? "patient" : "doctor"),
    status: row.granted ? "active" : "inactive",
    scope: concept(SYSTEMS.consentScope, "patient-privacy", "Privacy Consent"),
    category: [{ text: "Consent to record the video consultation" }],
    patient: ref("Patient", patientId),
    dateTime: row.updated_at,
    performer: [party],
    policyRule: { text: "Recording needs the explicit consent of the doctor and the patient" },
    provision: {
      type: row.granted ? "permit" : "deny",
      actor: [{
        role: concept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "CST", "custodian"),
        reference: party,
      }],
      action: [{ text: "record" }],
      data: [{ meaning: "related", reference: ref("Encounter", row.consultation_id) }],
    },
  };
}

/** The whole record as resources, in a stable order (the Bundle's). */
export function toResources(record: PatientRecord, fileUrls: Record<string, string>): Resource[] {
  const patientId = record.patient.id;
  const out: Resource[] = [toPatient(record.patient, record.identifiers)];
  for (const p of record.practitioners) out.push(toPractitioner(p), toPractitionerRole(p));
  for (const a of record.appointments) out.push(toAppointment(a, patientId));
  const reasons = new Map(record.histories.map((h) => [h.encounter_id, h.consultation_reason]));
  for (const c of record.consultations) out.push(toEncounter(c, patientId, reasons.get(c.id)));
  if (record.antecedents) out.push(...toAntecedentResources(record.antecedents, patientId));
  for (const h of record.histories) {
    for (const d of h.diagnostics) out.push(toDiagnosisCondition(d, h, patientId));
    for (const v of h.vitals) {
      out.push(toObservation(v, patientId, { encounterId: h.encounter_id, performerId: h.doctor_id }));
    }
    if (h.prescription) {
      for (const m of h.prescription.medications) {
        out.push(toMedicationRequest(m, h, h.prescription, patientId));
      }
    }
  }
  for (const v of record.importedVitals) out.push(toObservation(v, patientId, {}));
  for (const f of record.files) {
    const doctorId = record.consultations.find((c) => c.id === f.consultation_id)?.doctor_id ?? f.uploaded_by;
    out.push(toDocumentReference(f, patientId, doctorId, fileUrls[f.id]));
  }
  for (const c of record.consents) out.push(toConsent(c, patientId));
  return out;
}

export function searchsetBundle(resources: Resource[], baseUrl: string, selfUrl: string): Resource {
  return {
    resourceType: "Bundle",
    type: "searchset",
    total: resources.length,
    link: [{ relation: "self", url: selfUrl }],
    entry: resources.map((resource, i) => ({
      fullUrl: `${baseUrl}/${resource.resourceType}/${resource.id}`,
      resource,
      search: { mode: i === 0 ? "match" : "include" },
    })),
  };
}
