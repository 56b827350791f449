/**
 * The `api` Edge Function's app: every /v1 REST contract, the OpenAPI
 * document and its reference page (Swagger UI, served from the npm package). Its public URL is /functions/v1/api/...; the
 * function itself sees paths under /api.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { createApp } from "./app/create-app.ts";
import { ApiError } from "./app/problem.ts";
import { finishDocument } from "./app/openapi-document.ts";
import type { Deps } from "./app/types.ts";
import { docsAssets, docsHtml } from "./docs-page.ts";
import { appointmentsRouter } from "./modules/appointments/appointments.index.ts";
import { auditRouter } from "./modules/audit/audit.index.ts";
import { authRouter } from "./modules/auth/auth.index.ts";
import { chatRouter } from "./modules/chat/chat.index.ts";
import { clinicHistoriesRouter } from "./modules/clinic-histories/clinic-histories.index.ts";
import { consultationsRouter } from "./modules/consultations/consultations.index.ts";
import { doctorsRouter } from "./modules/doctors/doctors.index.ts";
import { fhirRouter } from "./modules/fhir/fhir.index.ts";
import { API_VERSION } from "./modules/health/health.handlers.ts";
import { healthRouter } from "./modules/health/health.index.ts";
import { meRouter } from "./modules/me/me.index.ts";
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

const ROUTERS = [
  healthRouter,
  rootRouter,
  authRouter,
  meRouter,
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
  fhirRouter,
  notificationsRouter,
];

/** Tags in the order the reference shows them; a route's tag must be here (the lint test says so). */
const TAGS = [
  { name: "Health", description: "Service health (public)" },
  { name: "App", description: "The API's greeting" },
  { name: "Auth", description: "Sign in and out, password reset by WhatsApp code" },
  { name: "User", description: "Accounts: admins, doctors and patients" },
  { name: "Specialties", description: "Medical specialties" },
  { name: "Patients", description: "Patient records and antecedents" },
  { name: "Appointments", description: "Booking, rescheduling and cancelling" },
  { name: "Doctors", description: "Doctors, weekly hours, exceptions and free slots" },
  { name: "Clinic Histories", description: "Clinical notes written after a visit" },
  { name: "Consultations", description: "Live consultations: queue, messages, files" },
  { name: "Video", description: "LiveKit rooms, tokens, observers and recording" },
  { name: "Chat", description: "Conversations between patients and doctors, files, video calls" },
  { name: "Audit", description: "Who read or changed clinical data (admins)" },
  { name: "OpenAI", description: "The assistant for doctors" },
  {
    name: "AI conversations",
    description: "The WhatsApp assistant's conversations, as their doctor reads them",
  },
  { name: "Twilio WhatsApp", description: "WhatsApp messages through Twilio, and Twilio's webhooks" },
  { name: "FHIR R4", description: "A patient's record as HL7 FHIR R4 resources, export and import" },
  {
    name: "Notifications",
    description: "Web Push subscriptions per device; events on Realtime user:{userId}",
  },
];

let built: object | undefined;

/** Every router on an app without middleware: what the document is generated from. */
export function documentedApp() {
  const app = new OpenAPIHono().basePath(API_BASE_PATH);
  for (const router of ROUTERS) app.route("/", router);
  return app;
}

/**
 * The OpenAPI 3.1 document of every route, finished (openapi-document.ts).
 * Built once per process, without dependencies: `deno task docs` and
 * `deno task client` build it too.
 */
export function apiDocument(): object {
  if (built) return built;
  const app = documentedApp();
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "The accessToken from POST /v1/auth/login",
  });
  const doc: object = finishDocument(app.getOpenAPI31Document({
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
    servers: [{ url: "..", description: "The project's Edge Functions (…/functions/v1)" }],
    security: [{ bearerAuth: [] }],
    tags: TAGS,
  }));
  return built = doc;
}

const ASSET_TYPES: Record<string, string> = {
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
};

export function createApiApp(deps: Deps) {
  const app = createApp(deps, API_BASE_PATH);
  for (const router of ROUTERS) app.route("/", router);

  app.get("/openapi.json", (c) => c.json(apiDocument()));
  // Relative URLs: right under /functions/v1/api/ behind the gateway as well.
  app.get(
    "/docs",
    (c) =>
      c.html(docsHtml({ jsUrl: "docs/swagger-ui-bundle.js", cssUrl: "docs/swagger-ui.css" }, "openapi.json")),
  );
  app.get("/docs/:asset", async (c) => {
    const type = ASSET_TYPES[c.req.param("asset")];
    if (!type) return c.notFound();
    // A deployment whose bundle lacks the package's files: say so (`deno task docs` is the way there).
    const { js, css } = await docsAssets().catch((cause) => {
      throw new ApiError("SRV_002", "Los archivos de la referencia no están en este despliegue", { cause });
    });
    return c.body(type.startsWith("text/css") ? css : js, 200, {
      "Content-Type": type,
      "Cache-Control": "public, max-age=86400",
    });
  });
  return app;
}

export type ApiApp = ReturnType<typeof createApiApp>;
