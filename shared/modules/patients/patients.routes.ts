import { createRoute, z } from "@hono/zod-openapi";
import {
  EmailSchema,
  IsoDateTime,
  NewPasswordSchema,
  PersonNameSchema,
  PhoneSchema,
} from "../../app/fields.ts";
import { jsonBody, ok, okPage, PageQuerySchema, problems, UuidParamsSchema } from "../../app/openapi.ts";

const tags = ["Patients"];

const GenderSchema = z.enum(["male", "female"]);
const BirthDateSchema = z.iso.date("debe tener el formato YYYY-MM-DD").refine(
  (d) => d >= "1900-01-01" && d <= new Date().toISOString().slice(0, 10),
  "debe estar entre 1900-01-01 y hoy",
);
const AddressSchema = z.string().trim().min(5).max(300);

export const PatientSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string(),
  lastName: z.string(),
  phone: z.string(),
  address: z.string(),
  gender: GenderSchema.optional(),
  birthDate: z.string().optional().openapi({ example: "1990-05-15T00:00:00.000Z" }),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
}).openapi("Patient");

export const CreatePatientSchema = z.object({
  email: EmailSchema,
  name: PersonNameSchema,
  lastName: PersonNameSchema,
  phone: PhoneSchema,
  address: AddressSchema,
  password: NewPasswordSchema.optional().openapi({
    description: "Optional: without one, the patient sets it through forgot-password. At least 8 " +
      "characters (15 or more recommended); not a common or breached password, nor containing the " +
      "patient's phone or name",
  }),
  gender: GenderSchema.nullish(),
  birthDate: BirthDateSchema.nullish(),
}).openapi("CreatePatient");

export const UpdatePatientSchema = z.object({
  email: EmailSchema.optional(),
  name: PersonNameSchema.optional(),
  lastName: PersonNameSchema.optional(),
  phone: PhoneSchema.optional(),
  address: AddressSchema.optional(),
  password: NewPasswordSchema.optional(),
  gender: GenderSchema.nullish(),
  birthDate: BirthDateSchema.nullish(),
}).openapi("UpdatePatient");

const AntecedentListSchema = z.array(z.string().trim().min(1).max(300)).max(100);

export const AntecedentsSchema = z.object({
  patientId: z.uuid(),
  allergies: z.array(z.string()),
  medications: z.array(z.string()),
  medicalHistory: z.array(z.string()),
  familyHistory: z.array(z.string()),
  updatedAt: IsoDateTime,
}).openapi("PatientAntecedents");

export const ReplaceAntecedentsSchema = z.object({
  allergies: AntecedentListSchema.optional(),
  medications: AntecedentListSchema.optional(),
  medicalHistory: AntecedentListSchema.optional(),
  familyHistory: AntecedentListSchema.optional(),
}).openapi("ReplaceAntecedents", { description: "Replaces the whole set: an omitted list becomes empty" });

export const ListPatientsQuerySchema = PageQuerySchema.extend({
  search: z.string().trim().min(2).max(100).optional().openapi({
    param: { name: "search", in: "query" },
    description: "Part of the name, last name, phone or email",
  }),
});

export const create = createRoute({
  method: "post",
  path: "/v1/patients",
  operationId: "createPatient",
  tags,
  summary: "Register a patient (admin, or a doctor who becomes their doctor)",
  request: { body: jsonBody(CreatePatientSchema) },
  responses: { 201: ok(PatientSchema, "Registered"), ...problems(403, 409) },
});

export const list = createRoute({
  method: "get",
  path: "/v1/patients",
  operationId: "listPatients",
  tags,
  summary: "Patients the caller may see (admin: all; doctor: theirs; patient: themself)",
  request: { query: ListPatientsQuerySchema },
  responses: { 200: okPage(PatientSchema, "A page of patients"), ...problems() },
});

export const getOne = createRoute({
  method: "get",
  path: "/v1/patients/{id}",
  operationId: "getPatient",
  tags,
  summary: "A patient",
  request: { params: UuidParamsSchema },
  responses: { 200: ok(PatientSchema, "The patient"), ...problems(404) },
});

export const update = createRoute({
  method: "patch",
  path: "/v1/patients/{id}",
  operationId: "updatePatient",
  tags,
  summary: "Update a patient (admin, or one of their doctors)",
  request: { params: UuidParamsSchema, body: jsonBody(UpdatePatientSchema) },
  responses: { 200: ok(PatientSchema, "Updated"), ...problems(403, 404, 409) },
});

export const remove = createRoute({
  method: "delete",
  path: "/v1/patients/{id}",
  operationId: "deletePatient",
  tags,
  summary: "Delete a patient (admin): soft, their clinical records stay",
  request: { params: UuidParamsSchema },
  responses: { 204: { description: "Deleted" }, ...problems(403, 404) },
});

export const getAntecedents = createRoute({
  method: "get",
  path: "/v1/patients/{id}/antecedents",
  operationId: "getPatientAntecedents",
  tags,
  summary: "A patient's antecedents (the patient and their doctors; never an admin)",
  request: { params: UuidParamsSchema },
  responses: { 200: ok(AntecedentsSchema, "The antecedents"), ...problems(403, 404) },
});

export const replaceAntecedents = createRoute({
  method: "put",
  path: "/v1/patients/{id}/antecedents",
  operationId: "replacePatientAntecedents",
  tags,
  summary: "Replace a patient's antecedents at once (their doctors)",
  request: { params: UuidParamsSchema, body: jsonBody(ReplaceAntecedentsSchema) },
  responses: { 200: ok(AntecedentsSchema, "The new antecedents"), ...problems(403, 404) },
});

export type CreateRoute = typeof create;
export type ListRoute = typeof list;
export type GetOneRoute = typeof getOne;
export type UpdateRoute = typeof update;
export type RemoveRoute = typeof remove;
export type GetAntecedentsRoute = typeof getAntecedents;
export type ReplaceAntecedentsRoute = typeof replaceAntecedents;
