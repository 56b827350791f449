import { createRoute, z } from "@hono/zod-openapi";
import { EmailSchema, PhoneSchema } from "../../app/fields.ts";
import { jsonBody, ok, problems } from "../../app/openapi.ts";

const tags = ["User"];

export const MyContactSchema = z.object({
  id: z.uuid(),
  phone: z.string(),
  email: z.string(),
  address: z.string().nullable().openapi({ description: "A patient's address; null for other roles" }),
}).openapi("MyContact");

export const UpdateMyContactSchema = z.strictObject({
  email: EmailSchema.optional(),
  address: z.string().trim().min(5).max(300).optional().openapi({ description: "Patients only" }),
}).refine((b) => b.email !== undefined || b.address !== undefined, {
  message: "indica email o address",
  path: ["email"],
}).openapi({
  description: "The caller's own contact fields. The phone changes only by a WhatsApp code " +
    "(POST /v1/user/me/phone); any other field is refused, naming it.",
}).openapi("UpdateMyContact");

export const updateMyContact = createRoute({
  operationId: "updateMyContact",
  method: "patch",
  path: "/v1/user/me",
  tags,
  summary: "Edit one's own contact fields (email; a patient's address)",
  request: { body: jsonBody(UpdateMyContactSchema) },
  responses: { 200: ok(MyContactSchema, "Updated"), ...problems(409) },
});

const PhoneChangeAnswerSchema = z.object({
  message: z.string(),
  expiresAt: z.string().openapi({ format: "date-time" }),
}).openapi("PhoneChangeRequested");

export const requestPhoneChange = createRoute({
  operationId: "requestPhoneChange",
  method: "post",
  path: "/v1/user/me/phone",
  tags,
  summary: "Ask to change one's phone: a 6-digit code goes by WhatsApp to the NEW number (10 minutes)",
  request: { body: jsonBody(z.strictObject({ phone: PhoneSchema }).openapi("RequestPhoneChange")) },
  responses: { 200: ok(PhoneChangeAnswerSchema, "Code sent"), ...problems(409, 429) },
});

export const confirmPhoneChange = createRoute({
  operationId: "confirmPhoneChange",
  method: "post",
  path: "/v1/user/me/phone/confirm",
  tags,
  summary: "Confirm the phone change with the code; ends every other session",
  request: {
    body: jsonBody(
      z.strictObject({
        phone: PhoneSchema,
        code: z.string().regex(/^\d{6}$/, "debe tener 6 dígitos").openapi({ example: "482913" }),
      }).openapi("ConfirmPhoneChange"),
    ),
  },
  responses: { 200: ok(MyContactSchema, "Phone changed"), ...problems(409) },
});

export type UpdateMyContactRoute = typeof updateMyContact;
export type RequestPhoneChangeRoute = typeof requestPhoneChange;
export type ConfirmPhoneChangeRoute = typeof confirmPhoneChange;
