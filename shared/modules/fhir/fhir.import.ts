/**
 * Reads an incoming transaction Bundle into what the database will be asked
 * to write, or refuses it naming the resource and element at fault. Pure:
 * nothing here touches the database, so a refused Bundle writes nothing.
 *
 * What is taken: one Patient (demographics and its identifier), Conditions
 * (entries of the patient's medical history) and vital-sign Observations
 * (imported_vital_signs). Everything else is refused, not ignored.
 */
import { KNOWN_LOINC, ucumOf } from "./fhir.mappers.ts";
import { FhirError, type Issue, type IssueCode } from "./fhir.outcome.ts";

export const MAX_ENTRIES = 200;
export const MAX_BUNDLE_BYTES = 256 * 1024;
const TYPES = new Set(["Patient", "Condition", "Observation"]);
const R4_PROFILE = /^http:\/\/hl7\.org\/fhir\/StructureDefinition\/[A-Za-z]+(\|4\.0(\.\d+)?)?$/;
const PHONE = /^\+[1-9]\d{6,14}$/;
const EMAIL = /^[^@\s]+@[^@\s]+$/;
const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const DATE_TIME =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface SourceIdentifier {
  system: string;
  value: string;
}

export interface ImportPatient {
  at: string;
  identifier?: SourceIdentifier;
  name: string;
  lastName: string;
  phone: string;
  email: string;
  address: string;
  gender: "male" | "female" | null;
  birthDate: string | null;
}

export interface ImportCondition {
  at: string;
  identifier?: SourceIdentifier;
  text: string;
}

export interface ImportObservation {
  at: string;
  identifier?: SourceIdentifier;
  name: string;
  loincCode: string | null;
  value: string;
  unit: string;
  effectiveAt: string;
}

export interface ImportPlan {
  /** The Patient entry, or the id of one of our patients the entries reference (`Patient/{id}`). */
  patient: ImportPatient | { existingId: string; at: string };
  conditions: ImportCondition[];
  observations: ImportObservation[];
}

// deno-lint-ignore no-explicit-any
type Json = any;

class Issues {
  readonly list: Issue[] = [];
  add(code: IssueCode, expression: string, diagnostics: string) {
    this.list.push({ code, diagnostics, expression: [expression] });
  }
}

const isObject = (v: unknown): v is Record<string, Json> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const text = (v: unknown, max: number) => typeof v === "string" && v.trim().length > 0 && v.length <= max;

function checkProfiles(resource: Json, at: string, issues: Issues) {
  const profiles = resource?.meta?.profile;
  if (profiles === undefined) return;
  if (!Array.isArray(profiles)) {
    return issues.add("structure", `${at}.meta.profile`, "meta.profile must be an array");
  }
  profiles.forEach((p: unknown, i: number) => {
    if (typeof p !== "string" || !R4_PROFILE.test(p)) {
      issues.add(
        "not-supported",
        `${at}.meta.profile[${i}]`,
        "only FHIR R4 (4.0) base profiles are supported",
      );
    }
  });
}

function identifierOf(resource: Json, at: string, issues: Issues): SourceIdentifier | undefined {
  const list = resource.identifier;
  if (list === undefined) return undefined;
  if (!Array.isArray(list)) {
    issues.add("structure", `${at}.identifier`, "identifier must be an array");
    return undefined;
  }
  const i = list.findIndex((id: Json) => isObject(id) && id.system !== undefined);
  if (i < 0) return undefined;
  const id = list[i];
  if (!text(id.system, 500)) {
    issues.add("value", `${at}.identifier[${i}].system`, "a URI of at most 500 characters");
  }
  if (!text(id.value, 500)) {
    issues.add("required", `${at}.identifier[${i}].value`, "an identifier needs a value");
  }
  return { system: id.system, value: id.value };
}

function readPatient(r: Json, at: string, issues: Issues): ImportPatient {
  const name = Array.isArray(r.name) ? r.name[0] : undefined;
  const family = name?.family;
  const given = Array.isArray(name?.given) ? name.given.join(" ") : undefined;
  if (!text(family, 100)) {
    issues.add("required", `${at}.name[0].family`, "a family name of 1 to 100 characters");
  }
  if (!text(given, 100)) issues.add("required", `${at}.name[0].given`, "a given name of 1 to 100 characters");
  const telecom: Json[] = Array.isArray(r.telecom) ? r.telecom : [];
  const phoneAt = telecom.findIndex((t) => t?.system === "phone");
  const emailAt = telecom.findIndex((t) => t?.system === "email");
  const phone = telecom[phoneAt]?.value;
  const email = telecom[emailAt]?.value;
  if (phoneAt < 0) issues.add("required", `${at}.telecom`, "a phone (telecom.system = phone) is required");
  else if (typeof phone !== "string" || !PHONE.test(phone)) {
    issues.add("value", `${at}.telecom[${phoneAt}].value`, "the phone must be E.164, e.g. +5491100000002");
  }
  if (emailAt < 0) issues.add("required", `${at}.telecom`, "an e-mail (telecom.system = email) is required");
  else if (typeof email !== "string" || email.length > 254 || !EMAIL.test(email)) {
    issues.add("value", `${at}.telecom[${emailAt}].value`, "not an e-mail address");
  }
  const address = Array.isArray(r.address) ? r.address[0] : undefined;
  const addressText = typeof address?.text === "string"
    ? address.text
    : [...(Array.isArray(address?.line) ? address.line : []), address?.city, address?.state, address?.country]
      .filter((s) => typeof s === "string" && s).join(", ");
  if (!addressText || addressText.trim().length < 5 || addressText.length > 300) {
    issues.add("required", `${at}.address[0]`, "an address of 5 to 300 characters (text, or line and city)");
  }
  let gender: "male" | "female" | null = null;
  if (r.gender === "male" || r.gender === "female") gender = r.gender;
  else if (r.gender !== undefined && r.gender !== "other" && r.gender !== "unknown") {
    issues.add("value", `${at}.gender`, "male, female, other or unknown");
  }
  if (r.birthDate !== undefined && (typeof r.birthDate !== "string" || !DATE.test(r.birthDate))) {
    issues.add("value", `${at}.birthDate`, "a full date (YYYY-MM-DD)");
  }
  return {
    at,
    identifier: identifierOf(r, at, issues),
    name: given ?? "",
    lastName: family ?? "",
    phone,
    email: typeof email === "string" ? email.toLowerCase() : email,
    address: addressText?.trim(),
    gender,
    birthDate: r.birthDate ?? null,
  };
}

function conceptText(code: Json): string | undefined {
  if (!isObject(code)) return undefined;
  if (typeof code.text === "string") return code.text;
  const coding = Array.isArray(code.coding)
    ? code.coding.find((c: Json) => typeof c?.display === "string")
    : undefined;
  return coding?.display;
}

function readCondition(r: Json, at: string, issues: Issues): ImportCondition {
  const t = conceptText(r.code);
  if (!text(t, 500)) {
    issues.add("required", `${at}.code`, "code.text or code.coding[].display, at most 500 characters");
  }
  return { at, identifier: identifierOf(r, at, issues), text: t?.trim() ?? "" };
}

function readQuantity(q: Json, at: string, issues: Issues): { value: string; unit: string } {
  if (!isObject(q)) {
    issues.add("required", at, "a Quantity");
    return { value: "", unit: "" };
  }
  if (typeof q.value !== "number" || !Number.isFinite(q.value)) {
    issues.add("value", `${at}.value`, "a number");
  }
  const unit = typeof q.unit === "string" ? q.unit : q.code;
  if (!text(unit, 50)) issues.add("required", `${at}.unit`, "a unit (or a UCUM code) of 1 to 50 characters");
  else if (
    q.system !== undefined && q.system === "http://unitsofmeasure.org" && typeof q.code === "string" &&
    ucumOf(q.code) === undefined && ucumOf(unit) === undefined
  ) {
    issues.add("not-supported", `${at}.code`, "a UCUM unit this server does not know");
  }
  return { value: String(q.value), unit: unit ?? "" };
}

const VALUE_KEYS = [
  "valueString",
  "valueBoolean",
  "valueInteger",
  "valueCodeableConcept",
  "valueRange",
  "valueRatio",
];

function readObservation(r: Json, at: string, issues: Issues): ImportObservation {
  if (!["final", "amended", "corrected", "preliminary"].includes(r.status)) {
    issues.add("value", `${at}.status`, "final, amended, corrected or preliminary");
  }
  const codings: Json[] = Array.isArray(r.code?.coding) ? r.code.coding : [];
  const loinc = codings.find((c) => c?.system === "http://loinc.org" && KNOWN_LOINC.has(c?.code));
  const name = conceptText(r.code);
  if (!text(name, 200)) {
    issues.add("required", `${at}.code`, "code.text or code.coding[].display, at most 200 characters");
  }
  if (typeof r.effectiveDateTime !== "string" || !DATE_TIME.test(r.effectiveDateTime)) {
    issues.add("required", `${at}.effectiveDateTime`, "an instant with its time zone");
  }
  const other = VALUE_KEYS.find((k) => r[k] !== undefined);
  if (other) {
    issues.add("not-supported", `${at}.${other}`, "a vital sign's value is a valueQuantity (or components)");
  }
  let value = { value: "", unit: "" };
  if (r.valueQuantity !== undefined) value = readQuantity(r.valueQuantity, `${at}.valueQuantity`, issues);
  else if (Array.isArray(r.component) && r.component.length === 2) {
    const parts = r.component.map((c: Json, i: number) =>
      readQuantity(c?.valueQuantity, `${at}.component[${i}].valueQuantity`, issues)
    );
    const sys = r.component.findIndex((c: Json) => c?.code?.coding?.some((x: Json) => x?.code === "8480-6"));
    const dia = r.component.findIndex((c: Json) => c?.code?.coding?.some((x: Json) => x?.code === "8462-4"));
    if (sys < 0 || dia < 0) {
      issues.add("value", `${at}.component`, "a systolic (8480-6) and a diastolic (8462-4) component");
    } else value = { value: `${parts[sys].value}/${parts[dia].value}`, unit: parts[sys].unit };
  } else if (!other) {
    issues.add("required", `${at}.value[x]`, "a valueQuantity, or the two components of a blood pressure");
  }
  if (value.value.length > 100) issues.add("value", `${at}.valueQuantity.value`, "at most 100 characters");
  return {
    at,
    identifier: identifierOf(r, at, issues),
    name: name?.trim() ?? "",
    loincCode: loinc?.code ?? null,
    value: value.value,
    unit: value.unit,
    effectiveAt: r.effectiveDateTime,
  };
}

/** The reference's target, as the Bundle's fullUrl or as one of our patients. */
function subjectOf(
  r: Json,
  at: string,
  field: string,
  fullUrls: Set<string>,
  issues: Issues,
): string | undefined {
  const reference = r[field]?.reference;
  if (typeof reference !== "string") {
    issues.add("required", `${at}.${field}.reference`, "a reference to the Bundle's Patient");
    return undefined;
  }
  if (fullUrls.has(reference)) return reference;
  const ours = /^Patient\/(.+)$/.exec(reference);
  if (ours && UUID.test(ours[1])) return reference;
  issues.add("not-found", `${at}.${field}.reference`, "the reference points outside the Bundle");
  return undefined;
}

/**
 * Reads the Bundle; throws a FhirError (400, or 413 when too large) naming
 * every element at fault, so one answer lists all of them.
 */
export function readTransaction(body: Json): ImportPlan {
  const issues = new Issues();
  const refuse = (status: "VAL_001" | "REQ_001") => new FhirError(status, issues.list);
  if (!isObject(body) || body.resourceType !== "Bundle") {
    issues.add("not-supported", "Bundle", "the body must be a Bundle");
    throw refuse("VAL_001");
  }
  checkProfiles(body, "Bundle", issues);
  if (body.type !== "transaction") {
    issues.add("value", "Bundle.type", "only a transaction Bundle is accepted");
  }
  if (!Array.isArray(body.entry) || body.entry.length === 0) {
    issues.add("required", "Bundle.entry", "a transaction needs at least one entry");
    throw refuse("VAL_001");
  }
  if (body.entry.length > MAX_ENTRIES) {
    issues.list.length = 0;
    issues.add("too-costly", "Bundle.entry", `at most ${MAX_ENTRIES} entries`);
    throw refuse("REQ_001");
  }

  const fullUrls = new Set<string>();
  let patientUrl: string | undefined;
  let patient: ImportPatient | undefined;
  const conditions: ImportCondition[] = [];
  const observations: ImportObservation[] = [];
  const subjects: { ref: string; at: string }[] = [];

  body.entry.forEach((entry: Json, i: number) => {
    const at = `Bundle.entry[${i}]`;
    if (typeof entry?.fullUrl === "string") {
      if (fullUrls.has(entry.fullUrl)) {
        issues.add("duplicate", `${at}.fullUrl`, "two entries with one fullUrl");
      }
      fullUrls.add(entry.fullUrl);
    }
  });
  body.entry.forEach((entry: Json, i: number) => {
    const at = `Bundle.entry[${i}]`;
    const r = entry?.resource;
    if (!isObject(r)) return issues.add("required", `${at}.resource`, "every entry needs a resource");
    const rat = `${at}.resource`;
    if (!TYPES.has(r.resourceType)) {
      return issues.add(
        "not-supported",
        `${rat}.resourceType`,
        "only Patient, Condition and Observation are imported",
      );
    }
    if (entry.request?.method !== "POST") {
      issues.add("not-supported", `${at}.request.method`, "only POST (create)");
    }
    checkProfiles(r, rat, issues);
    if (r.resourceType === "Patient") {
      if (patient) return issues.add("not-supported", rat, "one Patient per Bundle");
      patient = readPatient(r, rat, issues);
      patientUrl = entry.fullUrl;
      if (!patientUrl) issues.add("required", `${at}.fullUrl`, "the Patient's fullUrl (urn:uuid:...)");
    } else if (r.resourceType === "Condition") {
      const ref = subjectOf(r, rat, "subject", fullUrls, issues);
      if (ref) subjects.push({ ref, at: `${rat}.subject.reference` });
      conditions.push(readCondition(r, rat, issues));
    } else {
      const ref = subjectOf(r, rat, "subject", fullUrls, issues);
      if (ref) subjects.push({ ref, at: `${rat}.subject.reference` });
      const category = Array.isArray(r.category) ? r.category : [];
      if (!category.some((c: Json) => c?.coding?.some((x: Json) => x?.code === "vital-signs"))) {
        issues.add("not-supported", `${rat}.category`, "only vital-signs Observations are imported");
      }
      observations.push(readObservation(r, rat, issues));
    }
  });

  // Every entry is about one patient: the Bundle's, or one of ours that they all name.
  const target = patientUrl ?? subjects[0]?.ref;
  for (const s of subjects) {
    if (s.ref !== target) issues.add("invalid", s.at, "every entry must be about the same patient");
  }
  if (!patient && !target) {
    issues.add("required", "Bundle.entry", "a Patient, or entries about one of our patients");
  }
  if (issues.list.length) throw refuse("VAL_001");
  return {
    patient: patient ?? { existingId: target!.slice("Patient/".length), at: subjects[0].at },
    conditions,
    observations,
  };
}
