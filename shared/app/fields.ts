/** Field schemas shared by several modules, with the contract's rules. */
import { z } from "@hono/zod-openapi";

export const PhoneSchema = z.string().trim()
  .regex(/^\+[1-9]\d{6,14}$/, "debe estar en formato E.164, por ejemplo +5491100000002")
  .openapi({ example: "+5491100000002" });

/** A password given to sign in: any length an older account may have. */
export const PasswordSchema = z.string().min(6).max(256).openapi({ example: "consultorio-demo" });

/**
 * A password being set. The length is checked here (for the OpenAPI document too); the
 * common-password list and the owner's phone and name in shared/auth/password-policy.ts.
 */
export const NewPasswordSchema = z.string()
  .min(8, "debe tener al menos 8 caracteres (se recomiendan 15 o más)").max(256)
  .openapi({
    example: "una frase larga que recuerdes",
    description: "At least 8 characters (15 or more recommended), any characters; not a common or breached " +
      "password, and not containing the user's phone or name",
  });

export const EmailSchema = z.email().max(254).transform((e) => e.toLowerCase())
  .openapi({ example: "diego@consultorio.dev" });

export const PersonNameSchema = z.string().trim().min(2).max(100);

/** A file's SHA-256, in hexadecimal, as the client computed it. */
export const Sha256Schema = z.string().regex(/^[0-9a-fA-F]{64}$/, "debe ser el SHA-256 en hexadecimal")
  .openapi({ example: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" });

export const IsoDateTime = z.string().openapi({ format: "date-time" });

/** An instant given by a client: ISO 8601 with its offset (or Z). */
export const InstantSchema = z.iso.datetime({
  offset: true,
  error: "debe ser una fecha ISO 8601 con zona, p. ej. 2026-01-20T10:30:00Z",
});

export const iso = (value: unknown): string =>
  value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();

/**
 * A file's name as a user gave it: no path separators, and no control
 * characters (a NUL cannot be stored, and a line break or an escape in a
 * name would reach a download's Content-Disposition or a log).
 */
export const FileNameSchema = z.string().trim().min(1).max(200)
  .refine((name) => !/[/\\]/.test(name) && name !== "." && name !== "..", {
    message: "no puede contener separadores de ruta",
  })
  // deno-lint-ignore no-control-regex
  .refine((name) => !/[\u0000-\u001f\u007f-\u009f]/.test(name), {
    message: "no puede contener caracteres de control",
  })
  .openapi({ example: "laboratorio.pdf" });
