import { createRoute, z } from "@hono/zod-openapi";
import { EmailSchema, NewPasswordSchema, PasswordSchema, PhoneSchema } from "../../app/fields.ts";
import { jsonBody, ok, problems } from "../../app/openapi.ts";

const tags = ["Auth"];

export const LoginRequestSchema = z.object({
  phone: PhoneSchema,
  password: PasswordSchema,
}).openapi("LoginRequest");

export const LoginResponseSchema = z.object({
  accessToken: z.string().openapi({ description: "HS256 JWT, valid 30 days" }),
  expiresAt: z.string().openapi({ format: "date-time" }),
  user: z.object({
    id: z.uuid(),
    name: z.string(),
    lastName: z.string(),
    phone: z.string(),
    email: EmailSchema,
    role: z.enum(["admin", "doctor", "patient"]),
  }),
}).openapi("LoginResponse");

const MessageSchema = z.object({ message: z.string() });

export const login = createRoute({
  method: "post",
  path: "/v1/auth/login",
  operationId: "login",
  tags,
  summary: "Sign in with phone and password (public)",
  security: [],
  request: { body: jsonBody(LoginRequestSchema) },
  responses: {
    200: ok(LoginResponseSchema, "Signed in"),
    ...problems(401, 429),
  },
});

export const logout = createRoute({
  method: "post",
  path: "/v1/auth/logout",
  operationId: "logout",
  tags,
  summary: "Sign out: the token is revoked at once",
  responses: {
    200: ok(MessageSchema, "Signed out"),
    ...problems(),
  },
});

export const RealtimeTokenSchema = z.object({
  token: z.string().openapi({
    description: "Short-lived JWT for Supabase Realtime and Storage (supabase-js's accessToken option)",
  }),
  expiresAt: z.string().openapi({ format: "date-time" }),
}).openapi("RealtimeToken");

export const realtimeToken = createRoute({
  method: "post",
  path: "/v1/auth/realtime-token",
  operationId: "createRealtimeToken",
  tags,
  summary: "A short-lived token for Realtime and Storage, for a live session only",
  responses: {
    200: ok(RealtimeTokenSchema, "Minted (REALTIME_TOKEN_TTL_SECONDS, default 300)"),
    ...problems(),
  },
});

export const forgotPassword = createRoute({
  method: "post",
  path: "/v1/auth/forgot-password",
  operationId: "forgotPassword",
  tags,
  summary: "Send a 6-digit reset code by WhatsApp (public; never says whether the phone exists)",
  security: [],
  request: { body: jsonBody(z.object({ phone: PhoneSchema }).openapi("ForgotPasswordRequest")) },
  responses: {
    200: ok(MessageSchema, "If the phone belongs to a user, a code was sent"),
    ...problems(429),
  },
});

export const resetPassword = createRoute({
  method: "post",
  path: "/v1/auth/reset-password",
  operationId: "resetPassword",
  tags,
  summary: "Set a new password with the WhatsApp code (public); ends every session",
  security: [],
  request: {
    body: jsonBody(
      z.object({
        phone: PhoneSchema,
        code: z.string().regex(/^\d{6}$/, "debe tener 6 dígitos").openapi({ example: "123456" }),
        newPassword: NewPasswordSchema,
        // Must repeat newPassword: the same example.
        confirmPassword: z.string().max(256).openapi({ example: "una frase larga que recuerdes" }),
      }).openapi("ResetPasswordRequest"),
    ),
  },
  responses: {
    200: ok(MessageSchema, "Password changed"),
    ...problems(429),
  },
});

export type LoginRoute = typeof login;
export type LogoutRoute = typeof logout;
export type RealtimeTokenRoute = typeof realtimeToken;
export type ForgotPasswordRoute = typeof forgotPassword;
export type ResetPasswordRoute = typeof resetPassword;
