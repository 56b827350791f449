import { createRoute, z } from "@hono/zod-openapi";
import { InstantSchema, IsoDateTime } from "../../app/fields.ts";
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

const tags = ["Appointments"];

export const StatusSchema = z.enum(["PENDING", "CONFIRMED", "CANCELLED", "COMPLETED"]);
const ReasonSchema = z.string().trim().min(3).max(1000);

export const AppointmentSchema = z.object({
  id: z.uuid(),
  patientId: z.uuid(),
  doctorId: z.uuid(),
  specialtyId: z.uuid(),
  reason: z.string().nullable().openapi({
    description: "Clinical content: the appointment's patient and doctor read it; null for an admin",
  }),
  startAppointment: IsoDateTime,
  endAppointment: IsoDateTime,
  status: StatusSchema,
  patient: PersonRefSchema,
  doctor: DoctorRefSchema,
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
}).openapi("Appointment");

const endsAfterStart = (a: { startAppointment?: string; endAppointment?: string }) =>
  !a.startAppointment || !a.endAppointment || Date.parse(a.endAppointment) > Date.parse(a.startAppointment);
const END_AFTER_START = { message: "debe ser posterior a startAppointment", path: ["endAppointment"] };

export const CreateAppointmentSchema = z.object({
  patientId: z.uuid(),
  doctorId: z.uuid(),
  specialtyId: z.uuid(),
  startAppointment: InstantSchema,
  endAppointment: InstantSchema,
  reason: ReasonSchema,
}).refine(endsAfterStart, END_AFTER_START).openapi("CreateAppointment", {
  // A whole body: the end comes after the start.
  example: {
    patientId: "550e8400-e29b-41d4-a716-446655440000",
    doctorId: "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    specialtyId: "6ba7b811-9dad-11d1-80b4-00c04fd430c8",
    startAppointment: "2026-01-20T10:30:00Z",
    endAppointment: "2026-01-20T11:00:00Z",
    reason: "Control de presión arterial",
  },
});

export const UpdateAppointmentSchema = z.object({
  startAppointment: InstantSchema.optional(),
  endAppointment: InstantSchema.optional(),
  status: StatusSchema.optional(),
  reason: ReasonSchema.optional(),
}).refine(endsAfterStart, END_AFTER_START).openapi("UpdateAppointment", {
  example: { startAppointment: "2026-01-21T15:00:00Z", endAppointment: "2026-01-21T15:30:00Z" },
});

export const ListAppointmentsQuerySchema = PageQuerySchema.extend({
  from: InstantSchema.optional().openapi({
    param: { name: "from", in: "query" },
    description: "Starting at or after",
  }),
  to: InstantSchema.optional().openapi({
    param: { name: "to", in: "query" },
    description: "Starting before",
  }),
  status: StatusSchema.optional().openapi({ param: { name: "status", in: "query" } }),
  doctorId: z.uuid().optional().openapi({ param: { name: "doctorId", in: "query" } }),
  patientId: z.uuid().optional().openapi({ param: { name: "patientId", in: "query" } }),
});

export const create = createRoute({
  method: "post",
  path: "/v1/appointments",
  operationId: "createAppointment",
  tags,
  summary: "Book an appointment (a patient for themself, a doctor in their schedule, an admin)",
  request: { body: jsonBody(CreateAppointmentSchema) },
  responses: {
    201: ok(AppointmentSchema, "Booked"),
    ...problems(403, 404, 409),
  },
});

export const list = createRoute({
  method: "get",
  path: "/v1/appointments",
  operationId: "listAppointments",
  tags,
  summary: "Appointments the caller may see, by start time",
  request: { query: ListAppointmentsQuerySchema },
  responses: { 200: okPage(AppointmentSchema, "A page of appointments"), ...problems() },
});

export const getOne = createRoute({
  method: "get",
  path: "/v1/appointments/{id}",
  operationId: "getAppointment",
  tags,
  summary: "An appointment",
  request: { params: UuidParamsSchema },
  responses: { 200: ok(AppointmentSchema, "The appointment"), ...problems(404) },
});

export const update = createRoute({
  method: "patch",
  path: "/v1/appointments/{id}",
  operationId: "updateAppointment",
  tags,
  summary: "Reschedule, change the reason or move the status (PENDING → CONFIRMED → COMPLETED)",
  request: { params: UuidParamsSchema, body: jsonBody(UpdateAppointmentSchema) },
  responses: { 200: ok(AppointmentSchema, "Updated"), ...problems(403, 404, 409) },
});

export const cancel = createRoute({
  method: "post",
  path: "/v1/appointments/{id}/cancel",
  operationId: "cancelAppointment",
  tags,
  summary: "Cancel a pending or confirmed appointment that has not started",
  request: { params: UuidParamsSchema },
  responses: { 200: ok(AppointmentSchema, "Cancelled"), ...problems(403, 404) },
});

export const byPatient = createRoute({
  method: "get",
  path: "/v1/patients/{patientId}/appointments",
  operationId: "listPatientAppointments",
  tags,
  summary: "A patient's appointments",
  request: { params: PatientParamsSchema, query: PageQuerySchema },
  responses: { 200: okPage(AppointmentSchema, "A page of appointments"), ...problems(404) },
});

export type CreateRoute = typeof create;
export type ListRoute = typeof list;
export type GetOneRoute = typeof getOne;
export type UpdateRoute = typeof update;
export type CancelRoute = typeof cancel;
export type ByPatientRoute = typeof byPatient;
