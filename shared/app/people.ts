/** The small references to people that many answers embed. */
import { z } from "@hono/zod-openapi";

export const PersonRefSchema = z.object({
  id: z.uuid(),
  name: z.string().openapi({ example: "Pablo" }),
  lastName: z.string().openapi({ example: "Paciente" }),
}).openapi("PersonRef");

export const DoctorRefSchema = PersonRefSchema.extend({
  name: z.string().openapi({ example: "Diego" }),
  lastName: z.string().openapi({ example: "Doctor" }),
  specialty: z.string().openapi({ example: "Medicina general" }),
}).openapi("DoctorRef");
