import { createRoute, z } from "@hono/zod-openapi";
import { IsoDateTime } from "../../app/fields.ts";
import {
  jsonBody,
  ok,
  okPage,
  PageQuerySchema,
  PatientParamsSchema,
  problems,
  UuidParamsSchema,
} from "../../app/openapi.ts";
import { DoctorRefSchema, PersonRefSchema } from "../../app/people.ts";

const tags = ["Clinic Histories"];
const text = (max: number) => z.string().trim().min(1).max(max);

const NamedEntrySchema = z.object({ name: text(300), description: text(2000) });

const VitalSignSchema = z.object({
  name: text(200),
  value: text(100),
  unit: text(50),
  measurement: text(200),
  description: text(1000).optional(),
});

const MedicationSchema = z.object({
  name: text(300),
  quantity: z.number().int().min(1).max(100_000),
  unit: text(50),
  frequency: text(200),
  duration: text(200),
  indications: text(2000),
  administrationRoute: text(100),
  description: text(1000).optional(),
});

export const CreateClinicHistorySchema = z.object({
  appointmentId: z.uuid(),
  consultationReason: z.string().trim().min(10).max(2000),
  symptoms: z.array(text(300)).min(1).max(100),
  treatment: z.string().trim().min(10).max(5000),
  diagnostics: z.array(NamedEntrySchema).max(50),
  physicalExams: z.array(NamedEntrySchema).max(50),
  vitalSigns: z.array(VitalSignSchema).max(50),
  prescription: z.object({
    name: text(300),
    description: text(2000),
    medications: z.array(MedicationSchema).min(1).max(50),
  }).optional(),
}).openapi("CreateClinicHistory");

const Stamped = { id: z.uuid(), createdAt: IsoDateTime, updatedAt: IsoDateTime };

export const ClinicHistorySchema = z.object({
  id: z.uuid(),
  patientId: z.uuid(),
  doctorId: z.uuid(),
  specialtyId: z.uuid(),
  appointmentId: z.uuid(),
  consultationReason: z.string(),
  symptoms: z.array(z.string()),
  treatment: z.string(),
  diagnostics: z.array(NamedEntrySchema.extend(Stamped)),
  physicalExams: z.array(NamedEntrySchema.extend(Stamped)),
  vitalSigns: z.array(VitalSignSchema.extend(Stamped)),
  prescription: z.object({
    ...Stamped,
    name: z.string(),
    description: z.string(),
    medications: z.array(MedicationSchema.extend(Stamped)),
  }).optional(),
  patient: PersonRefSchema,
  doctor: DoctorRefSchema,
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
}).openapi("ClinicHistory");

export const create = createRoute({
  method: "post",
  path: "/v1/clinic-histories",
  operationId: "createClinicHistory",
  tags,
  summary: "Write the clinic history of an appointment (its doctor), all parts at once",
  request: { body: jsonBody(CreateClinicHistorySchema) },
  responses: { 201: ok(ClinicHistorySchema, "Written"), ...problems(403, 404, 409) },
});

export const list = createRoute({
  method: "get",
  path: "/v1/clinic-histories",
  operationId: "listClinicHistories",
  tags,
  summary: "Clinic histories the caller may read (a patient's own; a doctor's patients'; never an admin)",
  request: { query: PageQuerySchema },
  responses: {
    200: okPage(ClinicHistorySchema, "A page of clinic histories"),
    ...problems(403),
  },
});

export const getOne = createRoute({
  method: "get",
  path: "/v1/clinic-histories/{id}",
  operationId: "getClinicHistory",
  tags,
  summary: "A clinic history",
  request: { params: UuidParamsSchema },
  responses: { 200: ok(ClinicHistorySchema, "The clinic history"), ...problems(403, 404) },
});

export const byPatient = createRoute({
  method: "get",
  path: "/v1/patients/{patientId}/clinic-histories",
  operationId: "listPatientClinicHistories",
  tags,
  summary: "A patient's clinic histories",
  request: { params: PatientParamsSchema, query: PageQuerySchema },
  responses: {
    200: okPage(ClinicHistorySchema, "A page of clinic histories"),
    ...problems(403, 404),
  },
});

export type CreateRoute = typeof create;
export type ListRoute = typeof list;
export type GetOneRoute = typeof getOne;
export type ByPatientRoute = typeof byPatient;
