/**
 * The `api` Edge Function's app: every /v1 REST contract, the OpenAPI
 * document and Swagger UI. Its public URL is /functions/v1/api/...; the
 * function itself sees paths under /api.
 */
import { swaggerUI } from "@hono/swagger-ui";
import { createApp } from "./app/create-app.ts";
import type { Deps } from "./app/types.ts";
import { appointmentsRouter } from "./modules/appointments/appointments.index.ts";
import { auditRouter } from "./modules/audit/audit.index.ts";
import { authRouter } from "./modules/auth/auth.index.ts";
import { chatRouter } from "./modules/chat/chat.index.ts";
import { clinicHistoriesRouter } from "./modules/clinic-histories/clinic-histories.index.ts";
import { consultationsRouter } from "./modules/consultations/consultations.index.ts";
import { doctorsRouter } from "./modules/doctors/doctors.index.ts";
import { API_VERSION } from "./modules/health/health.handlers.ts";
import { healthRouter } from "./modules/health/health.index.ts";
import { patientsRouter } from "./modules/patients/patients.index.ts";
import { rootRouter } from "./modules/root/root.index.ts";
import { specialtiesRouter } from "./modules/specialties/specialties.index.ts";
import { usersRouter } from "./modules/users/users.index.ts";
import { videoRouter } from "./modules/video/video.index.ts";
import { aiConversationsRouter } from "./modules/ai-conversations/ai-conversations.index.ts";
import { openaiRouter } from "./modules/openai/openai.index.ts";
import { twilioRouter } from "./modules/twilio/twilio.index.ts";
import { notificationsRouter } from "./modules/notifications/notifications.index.ts";

export const API_BASE_PATH = "/api";

export function createApiApp(deps: Deps) {
  const app = createApp(deps, API_BASE_PATH);

  const routers = [
    healthRouter,
    rootRouter,
    authRouter,
    usersRouter,
    specialtiesRouter,
    patientsRouter,
    appointmentsRouter,
    doctorsRouter,
    clinicHistoriesRouter,
    consultationsRouter,
    videoRouter,
    chatRouter,
    auditRouter,
    openaiRouter,
    aiConversationsRouter,
    twilioRouter,
    notificationsRouter,
  ];
  for (const router of routers) {
    app.route("/", router);
  }

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "The accessToken from POST /v1/auth/login",
  });
  app.doc31("/openapi.json", () => ({
    openapi: "3.1.0",
    info: {
      title: "Consultorio API",
      version: API_VERSION,
      description: "Telemedicine backend: auth, users, patients, appointments, clinic histories, " +
        "live consultations, video on LiveKit, chat and the WhatsApp assistant. Successes come in " +
        "`{ success, data, message?, timestamp }`; errors are ProblemDetails.",
    },
    // Relative to where the document is served (…/functions/v1/api/openapi.json),
    // so it is right behind any gateway: the paths below start with /api.
    servers: [{ url: ".." }],
    security: [{ bearerAuth: [] }],
  }));
  app.get("/docs", swaggerUI({ url: "openapi.json", title: "Consultorio API" }));
  return app;
}

export type ApiApp = ReturnType<typeof createApiApp>;
