import { createRoute, z } from "@hono/zod-openapi";
import { InstantSchema, IsoDateTime } from "../../app/fields.ts";
import { jsonBody, ok, okPage, PageQuerySchema, problems, UuidParamsSchema } from "../../app/openapi.ts";

const tags = ["Doctors"];
const LocalTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "debe tener el formato HH:MM");

export const DoctorSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  lastName: z.string(),
  specialtyId: z.uuid(),
  specialty: z.string(),
}).openapi("Doctor");

export const WeeklyHoursSchema = z.object({
  weekday: z.number().int().min(1).max(7).openapi({ description: "ISO weekday: 1 = Monday … 7 = Sunday" }),
  startTime: LocalTime.openapi({ example: "09:00" }),
  endTime: LocalTime.openapi({ example: "13:00" }),
  slotMinutes: z.number().int().min(5).max(240).default(30),
}).refine((h) => h.endTime > h.startTime, { message: "debe ser posterior a startTime", path: ["endTime"] })
  .openapi("WeeklyHours");

export const ExceptionSchema = z.object({
  id: z.uuid(),
  kind: z.enum(["unavailable", "available"]),
  startsAt: IsoDateTime,
  endsAt: IsoDateTime,
  note: z.string().nullable().openapi({
    description: "Private: the doctor and admins read it; null for others",
  }),
}).openapi("AvailabilityException");

export const CreateExceptionSchema = z.object({
  kind: z.enum(["unavailable", "available"]).openapi({
    description: "unavailable: a day off or an absence; available: extra hours",
  }),
  startsAt: InstantSchema,
  endsAt: InstantSchema,
  note: z.string().trim().max(300).optional(),
}).refine((e) => Date.parse(e.endsAt) > Date.parse(e.startsAt), {
  message: "debe ser posterior a startsAt",
  path: ["endsAt"],
}).openapi("CreateAvailabilityException", {
  example: {
    kind: "unavailable",
    startsAt: "2026-01-23T09:00:00Z",
    endsAt: "2026-01-23T13:00:00Z",
    note: "Congreso",
  },
});

export const AvailabilitySchema = z.object({
  doctorId: z.uuid(),
  timeZone: z.string().openapi({ description: "The clinic's time zone, in which weekly hours are read" }),
  weeklyHours: z.array(WeeklyHoursSchema),
  exceptions: z.array(ExceptionSchema),
}).openapi("Availability");

export const SlotSchema = z.object({ startsAt: IsoDateTime, endsAt: IsoDateTime }).openapi("Slot");

export const SlotsQuerySchema = z.object({
  from: InstantSchema.openapi({ param: { name: "from", in: "query" } }),
  to: InstantSchema.openapi({ param: { name: "to", in: "query" } }),
}).refine((q) => Date.parse(q.to) > Date.parse(q.from), {
  message: "debe ser posterior a from",
  path: ["to"],
})
  .refine((q) => Date.parse(q.to) - Date.parse(q.from) <= 31 * 86_400_000, {
    message: "el rango no puede superar 31 días",
    path: ["to"],
  });

export const ExceptionParamsSchema = UuidParamsSchema.extend({
  exceptionId: z.uuid().openapi({ param: { name: "exceptionId", in: "path" } }),
});

export const list = createRoute({
  method: "get",
  path: "/v1/doctors",
  operationId: "listDoctors",
  tags,
  summary: "Doctors, for a booking form",
  request: {
    query: PageQuerySchema.extend({
      specialtyId: z.uuid().optional().openapi({ param: { name: "specialtyId", in: "query" } }),
    }),
  },
  responses: { 200: okPage(DoctorSchema, "A page of doctors"), ...problems() },
});

export const getAvailability = createRoute({
  method: "get",
  path: "/v1/doctors/{id}/availability",
  operationId: "getDoctorAvailability",
  tags,
  summary: "A doctor's weekly hours and upcoming exceptions",
  request: { params: UuidParamsSchema },
  responses: { 200: ok(AvailabilitySchema, "The availability"), ...problems(404) },
});

export const replaceWeeklyHours = createRoute({
  method: "put",
  path: "/v1/doctors/{id}/availability/weekly-hours",
  operationId: "replaceDoctorWeeklyHours",
  tags,
  summary: "Replace a doctor's weekly hours (the doctor, or an admin)",
  request: {
    params: UuidParamsSchema,
    body: jsonBody(
      z.object({ weeklyHours: z.array(WeeklyHoursSchema).max(50) }).openapi("ReplaceWeeklyHours"),
    ),
  },
  responses: {
    200: ok(AvailabilitySchema, "The new availability"),
    ...problems(403, 404, 409),
  },
});

export const addException = createRoute({
  method: "post",
  path: "/v1/doctors/{id}/availability/exceptions",
  operationId: "addDoctorAvailabilityException",
  tags,
  summary: "Add a day off or extra hours (the doctor, or an admin)",
  request: { params: UuidParamsSchema, body: jsonBody(CreateExceptionSchema) },
  responses: { 201: ok(ExceptionSchema, "Added"), ...problems(403, 404) },
});

export const removeException = createRoute({
  method: "delete",
  path: "/v1/doctors/{id}/availability/exceptions/{exceptionId}",
  operationId: "removeDoctorAvailabilityException",
  tags,
  summary: "Remove an exception (the doctor, or an admin)",
  request: { params: ExceptionParamsSchema },
  responses: { 204: { description: "Removed" }, ...problems(403, 404) },
});

export const slots = createRoute({
  method: "get",
  path: "/v1/doctors/{id}/slots",
  operationId: "listDoctorSlots",
  tags,
  summary: "A doctor's free slots between two instants (at most 31 days)",
  request: { params: UuidParamsSchema, query: SlotsQuerySchema },
  responses: { 200: ok(z.array(SlotSchema), "Free slots, in order"), ...problems(404) },
});

export type ListRoute = typeof list;
export type GetAvailabilityRoute = typeof getAvailability;
export type ReplaceWeeklyHoursRoute = typeof replaceWeeklyHours;
export type AddExceptionRoute = typeof addException;
export type RemoveExceptionRoute = typeof removeException;
export type SlotsRoute = typeof slots;
