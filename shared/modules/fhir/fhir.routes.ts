import { createRoute, z } from "@hono/zod-openapi";
import { FHIR_JSON, RESOURCE_TYPES } from "./fhir.mappers.ts";

const tags = ["FHIR R4"];

const ResourceSchema = z.looseObject({ resourceType: z.string() }).openapi("FhirResource", {
  description: "A FHIR R4 resource (http://hl7.org/fhir/R4/); see the README's FHIR section for the mapping",
});

const OperationOutcomeSchema = z.object({
  resourceType: z.literal("OperationOutcome"),
  issue: z.array(z.object({
    severity: z.literal("error"),
    code: z.string(),
    diagnostics: z.string(),
    expression: z.array(z.string()).optional().openapi({
      example: ["Bundle.entry[2].resource.valueQuantity.unit"],
    }),
  })),
}).openapi("OperationOutcome");

const fhir = (description: string) => ({ description, content: { [FHIR_JSON]: { schema: ResourceSchema } } });

/** The FHIR routes' errors: an OperationOutcome, never ProblemDetails. */
function outcomes<const S extends number>(...statuses: S[]) {
  return Object.fromEntries(statuses.map((s) => [s, {
    description: "OperationOutcome naming the element at fault",
    content: { [FHIR_JSON]: { schema: OperationOutcomeSchema } },
  }])) as {
    [K in S]: { description: string; content: { [FHIR_JSON]: { schema: typeof OperationOutcomeSchema } } };
  };
}

const FhirId = z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/, "a FHIR id ([A-Za-z0-9-.]{1,64})");

export const metadata = createRoute({
  operationId: "getFhirCapabilityStatement",
  method: "get",
  path: "/v1/fhir/metadata",
  tags,
  summary: "The FHIR CapabilityStatement (public, as FHIR servers' metadata is)",
  security: [],
  responses: { 200: fhir("CapabilityStatement"), ...outcomes(500) },
});

export const everything = createRoute({
  operationId: "getFhirPatientEverything",
  method: "get",
  path: "/v1/fhir/Patient/{id}/$everything",
  tags,
  summary: "A patient's record as a searchset Bundle (the patient and their doctors; an admin gets 403)",
  request: { params: z.object({ id: z.uuid() }) },
  responses: { 200: fhir("searchset Bundle"), ...outcomes(400, 401, 403, 404, 429, 500, 503) },
});

export const read = createRoute({
  operationId: "readFhirResource",
  method: "get",
  path: "/v1/fhir/{type}/{id}",
  tags,
  summary: "One resource by id, as the caller may read it (clinical types: not an admin)",
  request: { params: z.object({ type: z.enum(RESOURCE_TYPES), id: FhirId }) },
  responses: { 200: fhir("The resource"), ...outcomes(400, 401, 403, 404, 429, 500, 503) },
});

export const importBundle = createRoute({
  operationId: "importFhirBundle",
  method: "post",
  path: "/v1/fhir/Bundle",
  tags,
  summary:
    "Import a transaction Bundle: a Patient, its Conditions and vital-sign Observations, all or nothing " +
    "(a doctor; an admin: the Patient only); idempotent by the resources' identifiers",
  request: {
    body: {
      required: true,
      description: "A FHIR R4 transaction Bundle (application/fhir+json; fhirVersion=4.0)",
      content: { [FHIR_JSON]: { schema: ResourceSchema } },
    },
  },
  responses: {
    200: fhir("transaction-response Bundle (nothing new: every resource was imported before)"),
    201: fhir("transaction-response Bundle"),
    ...outcomes(400, 401, 403, 404, 409, 413, 415, 429, 500, 503),
  },
});

export type MetadataRoute = typeof metadata;
export type EverythingRoute = typeof everything;
export type ReadRoute = typeof read;
export type ImportRoute = typeof importBundle;
