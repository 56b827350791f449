import { createRoute, z } from "@hono/zod-openapi";
import { IsoDateTime } from "../../app/fields.ts";
import { jsonBody, ok, okPage, PageQuerySchema, problems } from "../../app/openapi.ts";

const tags = ["Specialties"];

export const SpecialtySchema = z.object({
  id: z.uuid(),
  name: z.string(),
  description: z.string().nullable(),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
}).openapi("Specialty");

export const CreateSpecialtySchema = z.object({
  name: z.string().trim().min(2).max(120),
  description: z.string().trim().max(1000).optional(),
}).openapi("CreateSpecialty");

export const list = createRoute({
  method: "get",
  path: "/v1/specialties",
  operationId: "listSpecialties",
  tags,
  summary: "Medical specialties, oldest first",
  request: { query: PageQuerySchema },
  responses: { 200: okPage(SpecialtySchema, "A page of specialties"), ...problems() },
});

export const create = createRoute({
  method: "post",
  path: "/v1/specialties",
  operationId: "createSpecialty",
  tags,
  summary: "Add a specialty (admin)",
  request: { body: jsonBody(CreateSpecialtySchema) },
  responses: { 201: ok(SpecialtySchema, "Created"), ...problems(403, 409) },
});

export type ListRoute = typeof list;
export type CreateRoute = typeof create;
