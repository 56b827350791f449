import { createRoute, z } from "@hono/zod-openapi";
import {
  EmailSchema,
  IsoDateTime,
  NewPasswordSchema,
  PersonNameSchema,
  PhoneSchema,
} from "../../app/fields.ts";
import { jsonBody, ok, okPage, PageQuerySchema, problems, UuidParamsSchema } from "../../app/openapi.ts";

const tags = ["User"];
const RoleSchema = z.enum(["admin", "doctor", "patient"]);

export const UserSchema = z.object({
  id: z.uuid(),
  role: RoleSchema,
  name: z.string(),
  lastName: z.string(),
  phone: z.string(),
  email: z.string(),
  specialtyId: z.uuid().nullable(),
  specialty: z.object({ id: z.uuid(), name: z.string() }).nullable(),
  isActive: z.boolean(),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
}).openapi("User");

export const CreateUserSchema = z.object({
  role: RoleSchema,
  name: PersonNameSchema,
  lastName: PersonNameSchema,
  phone: PhoneSchema,
  email: EmailSchema,
  specialtyId: z.uuid().optional().openapi({ description: "Required for doctors, refused for others" }),
  password: NewPasswordSchema.optional().openapi({
    description: "Optional: without one, the user sets it through forgot-password. At least 8 characters " +
      "(15 or more recommended); not a common or breached password, nor containing the user's phone or name",
  }),
}).superRefine((u, ctx) => {
  if ((u.role === "doctor") !== (u.specialtyId !== undefined)) {
    ctx.addIssue({
      code: "custom",
      path: ["specialtyId"],
      message: u.role === "doctor" ? "es obligatorio para un médico" : "solo se admite para un médico",
    });
  }
}).openapi("CreateUser", {
  // A whole body: the role decides whether specialtyId belongs.
  example: {
    role: "doctor",
    name: "Dora",
    lastName: "Doctor",
    phone: "+5491100000004",
    email: "dora@consultorio.dev",
    specialtyId: "550e8400-e29b-41d4-a716-446655440000",
    password: "una frase larga que recuerdes",
  },
});

export const UpdateUserSchema = z.object({
  role: RoleSchema.optional(),
  name: PersonNameSchema.optional(),
  lastName: PersonNameSchema.optional(),
  phone: PhoneSchema.optional(),
  email: EmailSchema.optional(),
  specialtyId: z.uuid().nullable().optional(),
  isActive: z.boolean().optional().openapi({ description: "false ends every session of the user" }),
  password: NewPasswordSchema.optional().openapi({
    description: "Replacing it ends every session of the user; the same rules as on creation",
  }),
}).openapi("UpdateUser");

export const ListUsersQuerySchema = PageQuerySchema.extend({
  role: RoleSchema.optional().openapi({ param: { name: "role", in: "query" } }),
});

export const create = createRoute({
  method: "post",
  path: "/v1/user",
  operationId: "createUser",
  tags,
  summary: "Create a user (admin)",
  request: { body: jsonBody(CreateUserSchema) },
  responses: { 201: ok(UserSchema, "Created"), ...problems(403, 404, 409) },
});

export const list = createRoute({
  method: "get",
  path: "/v1/user",
  operationId: "listUsers",
  tags,
  summary: "List users, oldest first (admin)",
  request: { query: ListUsersQuerySchema },
  responses: { 200: okPage(UserSchema, "A page of users"), ...problems(403) },
});

export const me = createRoute({
  method: "get",
  path: "/v1/user/me",
  operationId: "getCurrentUser",
  tags,
  summary: "The signed-in user",
  responses: { 200: ok(UserSchema, "The caller"), ...problems() },
});

export const getOne = createRoute({
  method: "get",
  path: "/v1/user/{id}",
  operationId: "getUser",
  tags,
  summary: "A user (admin, or the user themself)",
  request: { params: UuidParamsSchema },
  responses: { 200: ok(UserSchema, "The user"), ...problems(404) },
});

export const update = createRoute({
  method: "patch",
  path: "/v1/user/{id}",
  operationId: "updateUser",
  tags,
  summary: "Update a user (admin); a role change or deactivation ends their sessions",
  request: { params: UuidParamsSchema, body: jsonBody(UpdateUserSchema) },
  responses: { 200: ok(UserSchema, "Updated"), ...problems(403, 404, 409) },
});

export const remove = createRoute({
  method: "delete",
  path: "/v1/user/{id}",
  operationId: "deleteUser",
  tags,
  summary: "Delete a user (admin): soft, their records stay; ends their sessions",
  request: { params: UuidParamsSchema },
  responses: { 204: { description: "Deleted" }, ...problems(403, 404) },
});

export const endSessions = createRoute({
  method: "post",
  path: "/v1/user/{id}/sessions/end",
  operationId: "endUserSessions",
  tags,
  summary: "End every session of a user (admin)",
  request: { params: UuidParamsSchema },
  responses: {
    200: ok(z.object({ endedSessions: z.number().int() }), "Sessions ended"),
    ...problems(403, 404),
  },
});

export type CreateRoute = typeof create;
export type ListRoute = typeof list;
export type MeRoute = typeof me;
export type GetOneRoute = typeof getOne;
export type UpdateRoute = typeof update;
export type RemoveRoute = typeof remove;
export type EndSessionsRoute = typeof endSessions;
