/**
 * `deno task start`: the whole product on this machine, like `supabase start`
 * but without Docker. Data in .local/ (or DATABASE_URL), gateway on
 * 127.0.0.1:54321 (or PORT).
 */
import { ConfigError } from "../../shared/config.ts";
import { createStack, type Stack } from "./stack.ts";
import { DataDirLockedError, lockDataDir } from "./data-lock.ts";

const started = performance.now();
const root = new URL("../../", import.meta.url).pathname;
const dataDir = Deno.env.get("CONSULTORIO_LOCAL_DIR") ?? `${root}.local`;
const port = Number(Deno.env.get("PORT") ?? 54321);
const hostname = Deno.env.get("HOST") ?? "127.0.0.1";

// Before anything opens the folder: a second start on it stops here.
let dataLock: Deno.FsFile;
try {
  dataLock = await lockDataDir(dataDir);
} catch (error) {
  if (!(error instanceof DataDirLockedError)) throw error;
  console.error(error.message);
  Deno.exit(1);
}

// Listen first, so that the stack knows its own URL (the functions get it as
// SUPABASE_URL); until the stack is ready the gateway answers 503.
const ready: { gateway?: Stack["handler"] } = {};
const server = Deno.serve(
  { hostname, port, onListen: () => {} },
  (request, info) =>
    ready.gateway ? ready.gateway(request, info) : Response.json({ message: "starting" }, { status: 503 }),
);
const apiUrl = `http://${hostname}:${server.addr.port}`;

let stack: Stack;
try {
  stack = await createStack({ dataDir, publicUrl: apiUrl });
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    Deno.exit(1);
  }
  throw error;
}
ready.gateway = stack.handler;
const { config, prepared } = stack;
const current = config.jwt.signingKeys[0];
const signing = current
  ? `${current.alg} kid ${current.kid}${
    Deno.env.get("JWT_SIGNING_KEYS") ? "" : ` (private JWK in ${dataDir}/secrets.json)`
  }${config.jwt.signingKeys.length > 1 ? `, +${config.jwt.signingKeys.length - 1} standby/previous` : ""}`
  : `HS256, legacy JWT secret ${config.jwt.secret}`;

console.log(`
Consultorio local stack is running (stand-in for a Supabase project).

         API URL: ${apiUrl}
        REST API: ${apiUrl}/functions/v1/api/v1
         OpenAPI: ${apiUrl}/functions/v1/api/openapi.json
      Swagger UI: ${apiUrl}/functions/v1/api/docs
        Database: ${config.database.url ? "PostgreSQL (DATABASE_URL)" : `PGlite, data in ${dataDir}/pgdata`}
         LiveKit: ${config.livekit.url}${stack.livekit ? " (local stand-in, /twirp/*)" : ""}
          OpenAI: ${config.openai.baseUrl ?? "https://api.openai.com/v1"}${
  stack.openai ? " (local stand-in)" : ""
}
WhatsApp webhook: ${config.twilioWebhook.url ?? `${apiUrl}/functions/v1/whatsapp-webhook`}
     Signing key: ${signing}
        JWKS URL: ${apiUrl}/auth/v1/.well-known/jwks.json
 Publishable key: ${stack.publishableKey}
      Secret key: ${stack.secretKey}
        anon key: ${stack.anonKey}
service_role key: ${stack.serviceRoleKey}

Migrations applied now: ${prepared.applied.length ? prepared.applied.join(", ") : "none (up to date)"}
Demo accounts${
  prepared.seeded ? " (seeded now)" : ""
}: +5491100000001 (admin), +5491100000002 and +5491100000004 (doctors),
+5491100000003 and +5491100000005 (patients); password: consultorio-demo
WhatsApp messages (reset codes, the assistant's answers, reminders) are printed here instead of being sent.
Reminders: ${apiUrl}/functions/v1/reminders runs every 5 minutes (Supabase Cron in production).
Web Push: ${apiUrl}/functions/v1/push runs every 5 seconds (Supabase Cron in production).
Started in ${Math.round(performance.now() - started)} ms. Press Ctrl+C to stop.
`);

// Supabase Cron calls the reminders function every few minutes in production; here, a timer does.
const REMINDERS_EVERY_MS = 5 * 60_000;
const remindersTimer = setInterval(() => {
  Promise.resolve(stack.handler(
    new Request(`${apiUrl}/functions/v1/reminders`, {
      method: "POST",
      headers: { apikey: stack.secretKey },
    }),
  )).then((res) => res.body?.cancel()).catch((error) => console.error("reminders failed:", error.name));
}, REMINDERS_EVERY_MS);

// Supabase Cron calls the push function every few seconds in production; here, a timer does.
const PUSH_EVERY_MS = 5_000;
const pushTimer = setInterval(() => {
  Promise.resolve(stack.handler(
    new Request(`${apiUrl}/functions/v1/push`, { method: "POST", headers: { apikey: stack.secretKey } }),
  )).then((res) => res.body?.cancel()).catch((error) => console.error("push failed:", error.name));
}, PUSH_EVERY_MS);

const stop = async () => {
  clearInterval(remindersTimer);
  clearInterval(pushTimer);
  await server.shutdown();
  await stack.close();
  dataLock.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
