import type { Context } from "hono";
import { API_VERSION } from "../health/health.handlers.ts";
import { StorageAdapterError } from "../../adapters/storage/storage.ts";
import { toApiError } from "../../app/on-error.ts";
import type { AppBindings, AppRouteHandler } from "../../app/types.ts";
import type { Queryable } from "../../db/database.ts";
import { type ImportPlan, MAX_BUNDLE_BYTES, readTransaction } from "./fhir.import.ts";
import {
  antecedentId,
  FHIR_JSON,
  FHIR_VERSION,
  type PatientRecord,
  type ReadableType,
  type Resource,
  RESOURCE_TYPES,
  searchsetBundle,
  toPractitioner,
  toPractitionerRole,
  toResources,
} from "./fhir.mappers.ts";
import { FhirError, fhirError, fhirResponse } from "./fhir.outcome.ts";
import * as q from "./fhir.queries.ts";
import type { EverythingRoute, ImportRoute, MetadataRoute, ReadRoute } from "./fhir.routes.ts";

const BUCKET = "consultation-files";
const FILE_URL_TTL_SECONDS = 5 * 60;
const NOT_FOUND = "not found, or not visible to the caller";

const baseUrl = (c: Context) => c.req.url.slice(0, c.req.url.indexOf("/v1/fhir") + "/v1/fhir".length);

function requireRoles(c: Context<AppBindings>, ...roles: string[]) {
  if (!roles.includes(c.var.caller.user_role)) {
    throw fhirError("AUTH_002", "forbidden", "this role may not read or write clinical resources");
  }
}

/** Short-lived signed URLs of the files (never the bytes), asked of Storage at once. */
async function fileUrls(
  c: Context<AppBindings>,
  files: PatientRecord["files"],
): Promise<Record<string, string>> {
  try {
    const urls = await Promise.all(
      files.map((f) =>
        c.var.deps.storage.createSignedDownloadUrl(
          BUCKET,
          `${f.consultation_id}/${f.id}`,
          FILE_URL_TTL_SECONDS,
        )
      ),
    );
    return Object.fromEntries(files.map((f, i) => [f.id, urls[i]]));
  } catch (error) {
    if (!(error instanceof StorageAdapterError)) throw error;
    c.var.log.error("signed download URL failed", { error: error.message });
    throw fhirError("SRV_002", "transient", "Storage is not available; try again");
  }
}

export const metadata: AppRouteHandler<MetadataRoute> = (c) => {
  const read = (type: string) => ({ type, interaction: [{ code: "read" }] });
  return fhirResponse(c, 200, {
    resourceType: "CapabilityStatement",
    status: "active",
    date: "2026-12-01",
    publisher: "Consultorio",
    kind: "instance",
    software: { name: "Consultorio", version: API_VERSION },
    implementation: { description: "Consultorio's FHIR R4 face over its own records", url: baseUrl(c) },
    fhirVersion: FHIR_VERSION,
    format: [FHIR_JSON, "json"],
    rest: [{
      mode: "server",
      security: {
        description: "Authorization: Bearer <accessToken from POST /v1/auth/login>. Row-level security " +
          "decides what each caller reads: a patient their own record, a doctor their patients'; an admin no " +
          "clinical resource.",
      },
      resource: RESOURCE_TYPES.map((type) =>
        type === "Patient"
          ? {
            ...read(type),
            operation: [{
              name: "everything",
              definition: "http://hl7.org/fhir/OperationDefinition/Patient-everything",
            }],
          }
          : read(type)
      ),
      interaction: [{
        code: "transaction",
        documentation: "Patient, Condition and vital-sign Observation only",
      }],
    }],
  });
};

export const everything: AppRouteHandler<EverythingRoute> = async (c) => {
  requireRoles(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  const record = await c.var.db.transaction((tx) => q.readPatientRecord(tx, id));
  if (!record) throw fhirError("RES_001", "not-found", `Patient ${NOT_FOUND}`);
  const resources = toResources(record, await fileUrls(c, record.files));
  return fhirResponse(c, 200, searchsetBundle(resources, baseUrl(c), c.req.url));
};

/** Which patient's record holds the resource `type/id`, for ids that are not a row's uuid. */
function patientOfDerivedId(type: ReadableType, id: string): { patientId?: string; consultationId?: string } {
  const antecedent = /^(mh|al|md|fh)\d+-([0-9a-f-]{36})$/.exec(id);
  if (
    antecedent &&
    ["Condition", "AllergyIntolerance", "MedicationStatement", "FamilyMemberHistory"].includes(type)
  ) {
    return { patientId: antecedent[2] };
  }
  const consent = /^rc-([0-9a-f-]{36})-(patient|doctor)$/.exec(id);
  if (consent && type === "Consent") return { consultationId: consent[1] };
  return {};
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ADMIN_READABLE = new Set<ReadableType>(["Patient", "Practitioner", "PractitionerRole"]);

export const read: AppRouteHandler<ReadRoute> = async (c) => {
  const { type, id } = c.req.valid("param");
  // An admin reads demographics (as GET /v1/patients/{id}) and the doctors, nothing clinical.
  if (c.var.caller.user_role === "admin" && !ADMIN_READABLE.has(type)) requireRoles(c, "doctor", "patient");
  const notFound = () => fhirError("RES_001", "not-found", `${type}/${id} ${NOT_FOUND}`);

  if (type === "Practitioner" || type === "PractitionerRole") {
    if (!UUID.test(id)) throw notFound();
    const row = await q.readPractitioner(c.var.db, id);
    if (!row) throw notFound();
    return fhirResponse(c, 200, type === "Practitioner" ? toPractitioner(row) : toPractitionerRole(row));
  }

  const derived = patientOfDerivedId(type, id);
  const record = await c.var.db.transaction(async (tx) => {
    const ownerId = derived.patientId ??
      (derived.consultationId
        ? await q.ownerOf(tx, "Consent", derived.consultationId)
        : UUID.test(id)
        ? await q.ownerOf(tx, type, id)
        : undefined);
    return ownerId ? await q.readPatientRecord(tx, ownerId) : undefined;
  });
  // Only the file asked for is signed.
  const files = record?.files.filter((f) => type === "DocumentReference" && f.id === id) ?? [];
  const resource = record && toResources(record, await fileUrls(c, files))
    .find((r) => r.resourceType === type && r.id === id);
  if (!resource) throw notFound();
  return fhirResponse(c, 200, resource);
};

// ---------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------

/** The media type must be FHIR JSON (or JSON) of version 4.0, when a version is said. */
function checkMediaType(c: Context) {
  const header = c.req.header("content-type") ?? "";
  const [type, ...params] = header.split(";").map((s) => s.trim());
  if (!["application/fhir+json", "application/json"].includes(type.toLowerCase())) {
    throw fhirError("REQ_002", "not-supported", "the body must be application/fhir+json");
  }
  const version = params.map((p) => p.split("=")).find(([k]) => k.toLowerCase() === "fhirversion")?.[1];
  if (version !== undefined && !/^4\.0(\.\d+)?$/.test(version.replace(/"/g, ""))) {
    throw fhirError("REQ_002", "not-supported", "only FHIR R4 (fhirVersion=4.0) is accepted");
  }
}

interface EntryResult {
  at: string;
  status: "201 Created" | "200 OK";
  location: string;
}

/** Runs the plan as the caller, in the request's one transaction: every entry, or (on any error) none. */
async function runImport(tx: Queryable, plan: ImportPlan, isAdmin: boolean): Promise<EntryResult[]> {
  const results: EntryResult[] = [];
  // The policies refuse it too; saying it first names the entry.
  const clinical = [...plan.conditions, ...plan.observations];
  if (isAdmin && clinical.length) {
    throw fhirError(
      "AUTH_002",
      "forbidden",
      "an admin imports patients, not clinical content",
      clinical[0].at,
    );
  }
  let patientId: string;
  const p = plan.patient;
  if ("existingId" in p) {
    const visible = await q.ownerOf(tx, "Patient", p.existingId);
    const [care] = await tx.query<{ ok: boolean }>("select app.is_my_patient($1) as ok", [p.existingId]);
    if (!visible || !care.ok) throw fhirError("RES_001", "not-found", `Patient ${NOT_FOUND}`, p.at);
    patientId = p.existingId;
  } else {
    const known = p.identifier &&
      await q.findImported(tx, "Patient", p.identifier.system, p.identifier.value);
    if (known) {
      patientId = known;
      results.push({ at: p.at, status: "200 OK", location: `Patient/${known}` });
    } else {
      patientId = await guarded(p.at, () => q.registerPatient(tx, p));
      if (p.identifier) {
        await guarded(
          `${p.at}.identifier`,
          () => q.rememberImported(tx, patientId, "Patient", p.identifier!.system, p.identifier!.value),
        );
      }
      results.push({ at: p.at, status: "201 Created", location: `Patient/${patientId}` });
    }
  }

  const newConditions: typeof plan.conditions = [];
  for (const cond of plan.conditions) {
    if (
      cond.identifier && await q.findImported(tx, "Condition", cond.identifier.system, cond.identifier.value)
    ) {
      results.push({ at: cond.at, status: "200 OK", location: "" });
      continue;
    }
    newConditions.push(cond);
    if (cond.identifier) {
      await guarded(
        `${cond.at}.identifier`,
        () => q.rememberImported(tx, patientId, "Condition", cond.identifier!.system, cond.identifier!.value),
      );
    }
  }
  const history = plan.conditions.length
    ? await guarded(
      plan.conditions[0].at,
      () => q.addMedicalHistory(tx, patientId, newConditions.map((x) => x.text)),
    )
    : [];
  for (const cond of plan.conditions) {
    const index = history.indexOf(cond.text);
    const location = `Condition/${antecedentId("medical_history", index, patientId)}`;
    const done = results.find((r) => r.at === cond.at);
    if (done) done.location = location;
    else results.push({ at: cond.at, status: "201 Created", location });
  }

  for (const obs of plan.observations) {
    if (obs.identifier) {
      if (await q.findImported(tx, "Observation", obs.identifier.system, obs.identifier.value)) {
        results.push({ at: obs.at, status: "200 OK", location: "" });
        continue;
      }
      await guarded(
        `${obs.at}.identifier`,
        () => q.rememberImported(tx, patientId, "Observation", obs.identifier!.system, obs.identifier!.value),
      );
    }
    const id = await guarded(obs.at, () => q.addImportedVital(tx, patientId, obs));
    results.push({ at: obs.at, status: "201 Created", location: `Observation/${id}` });
  }
  return results;
}

/** A database refusal of one entry, as an OperationOutcome that names it. */
async function guarded<T>(at: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof FhirError) throw error;
    const api = toApiError(error);
    if (api.status >= 500) throw error;
    const field = api.errors?.[0]?.field;
    const element = field === "phone" || field === "email" ? `${at}.telecom` : at;
    const code = api.status === 409
      ? "duplicate"
      : api.status === 403 || api.status === 404
      ? "forbidden"
      : "invalid";
    throw fhirError(api.code, code, `${api.code}: ${api.detail}`, element);
  }
}

export const importBundle: AppRouteHandler<ImportRoute> = async (c) => {
  requireRoles(c, "doctor", "admin");
  checkMediaType(c);
  const raw = await c.req.text();
  if (new TextEncoder().encode(raw).length > MAX_BUNDLE_BYTES) {
    throw fhirError("REQ_001", "too-costly", `a Bundle is at most ${MAX_BUNDLE_BYTES} bytes`, "Bundle");
  }
  const plan = readTransaction(c.req.valid("json"));
  const isAdmin = c.var.caller.user_role === "admin";
  const results = await c.var.db.transaction((tx) => runImport(tx, plan, isAdmin));
  const order = (at: string) => Number(/entry\[(\d+)\]/.exec(at)?.[1]);
  results.sort((a, b) => order(a.at) - order(b.at));
  const created = results.some((r) => r.status === "201 Created");
  const bundle: Resource = {
    resourceType: "Bundle",
    type: "transaction-response",
    entry: results.map((r) => ({
      response: { status: r.status, ...(r.location ? { location: r.location } : {}) },
    })),
  };
  return fhirResponse(c, created ? 201 : 200, bundle);
};
