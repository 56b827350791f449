/** The small references to people that many answers embed. */
import { z } from "@hono/zod-openapi";

export const PersonRefSchema = z.object({ id: z.uuid(), name: z.string(), lastName: z.string() })
  .openapi("PersonRef");

export const DoctorRefSchema = PersonRefSchema.extend({ specialty: z.string() }).openapi("DoctorRef");
