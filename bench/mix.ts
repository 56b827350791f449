/**
 * The realistic mix, driven by autocannon against the real local stack on
 * PostgreSQL (API, Storage and Realtime through one gateway, in this
 * process). Every client connection runs this cycle as a person of its own:
 *
 *   a patient signs in (Argon2id, as in production) · reads a doctor's free
 *   slots · the doctor reads their appointments · the patient books (201, or
 *   409 when another client took the slot) · the doctor writes in the live
 *   consultation's chat · the patient prepares a file, uploads it through
 *   the signed URL and confirms it (a file message).
 *
 * The patients listen on their consultation's Realtime channel with
 * supabase-js; after each run every acknowledged chat message must have
 * reached its patient exactly once. Rate limits are relaxed, as every client
 * shares one address on loopback; any answer but 2xx, 409 and 429 is an error.
 */
import autocannon from "autocannon";
import type { SupabaseClient } from "@supabase/supabase-js";
import { platformClient } from "../tests/helpers/realtime.ts";
import { summarize, type Summary } from "./lib/stats.ts";
import { PATIENT_PASSWORD, specialtyOf, startLiveConsultation } from "../tests/helpers/clinic.ts";
import { createUser, type TestStack, type TestUser } from "../tests/helpers/stack.ts";

export interface MixResult {
  connections: number;
  durationSeconds: number;
  requests: number;
  requestsPerSecond: number;
  latency: Summary;
  statuses: Record<string, number>;
  /** Answers other than 2xx, 409 and 429, and transport errors. */
  errors: number;
  messages: { acknowledged: number; received: number; lost: number; duplicated: number };
  /** The process's memory after the run (bytes). */
  heapUsed: number;
  rss: number;
}

interface Person {
  patient: { id: string; phone: string; token: string };
  doctor: TestUser;
  specialtyId: string;
  consultationId: string;
}

/** The people of the mix, each patient in a live consultation with one of the doctors, listening on it. */
export async function prepareMix(s: TestStack, people: number) {
  const admin = await createUser(s, "admin");
  const doctors = await Promise.all(Array.from({ length: 4 }, () => createUser(s, "doctor")));
  const persons: Person[] = [];
  for (let i = 0; i < people; i++) {
    const doctor = doctors[i % doctors.length];
    const start = new Date(Date.now() + 86_400_000 + i * 3_600_000);
    start.setUTCMinutes(0, 0, 0);
    const consultation = await startLiveConsultation(s, { admin, doctor, patientName: "Carga" }, start);
    persons.push({
      patient: consultation.patient,
      doctor,
      specialtyId: await specialtyOf(s, doctor),
      consultationId: consultation.id,
    });
  }

  // Each patient's supabase-js client on their consultation's channel: the message ids it heard, and how often.
  const heard = new Map<string, number>();
  const clients: SupabaseClient[] = [];
  for (const person of persons) {
    const client = await platformClient(s, person.patient.token);
    const channel = client.channel(`consultation:${person.consultationId}`, { config: { private: true } });
    channel.on("broadcast", { event: "chat.message_created" }, ({ payload }) => {
      const id = payload.message?.id ?? payload.id;
      heard.set(id, (heard.get(id) ?? 0) + 1);
    });
    await new Promise<void>((resolve, reject) =>
      channel.subscribe((status, err) => {
        if (status === "SUBSCRIBED") resolve();
        else if (status !== "CLOSED") reject(err ?? new Error(status));
      })
    );
    clients.push(client);
  }
  return {
    persons,
    heard,
    patientPassword: PATIENT_PASSWORD,
    async close() {
      for (const client of clients) await client.removeAllChannels();
    },
  };
}

type Prepared = Awaited<ReturnType<typeof prepareMix>>;

/** The uploaded file: ASCII text, so that its length in bytes is its length. */
const FILE = "Resultados de laboratorio: normales.\n".repeat(20);
let slotCounter = 0;

export async function runMix(
  s: TestStack,
  mix: Prepared,
  options: { connections: number; durationSeconds: number },
): Promise<MixResult> {
  const statuses: Record<string, number> = {};
  const acknowledged = new Set<string>();
  const latencies: number[] = [];
  let nextPerson = 0;
  const api = (path: string) => `/functions/v1/api${path}`;
  const json = (token?: string) => ({
    "Content-Type": "application/json",
    ...(token ? { Authorization: `Bearer ${token}` } : {}),
  });
  // deno-lint-ignore no-explicit-any
  type Context = Record<string, any>;
  const person = (context: Context): Person => {
    context.person ??= mix.persons[nextPerson++ % mix.persons.length];
    return context.person;
  };
  const record = (id?: string) => {
    if (id) acknowledged.add(id);
  };
  const day = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);

  const instance = autocannon({
    url: s.origin,
    connections: options.connections,
    duration: options.durationSeconds,
    requests: withErrorLog([
      {
        method: "POST",
        setupRequest: (req: Context, context: Context) => {
          const p = person(context);
          return {
            ...req,
            path: api("/v1/auth/login"),
            headers: json(),
            body: JSON.stringify({ phone: p.patient.phone, password: mix.patientPassword }),
          };
        },
      },
      {
        method: "GET",
        setupRequest: (req: Context, context: Context) => ({
          ...req,
          path: api(
            `/v1/doctors/${person(context).doctor.id}/slots?from=${day}T00:00:00Z&to=${day}T23:59:00Z`,
          ),
          headers: json(person(context).patient.token),
        }),
      },
      {
        method: "GET",
        setupRequest: (req: Context, context: Context) => ({
          ...req,
          path: api("/v1/appointments?limit=50"),
          headers: json(person(context).doctor.token),
        }),
      },
      {
        method: "POST",
        setupRequest: (req: Context, context: Context) => {
          const p = person(context);
          // Slots far ahead, one per request: a collision (409) only when two clients race for one.
          const start = new Date(Date.UTC(2031, 0, 1) + Math.floor(slotCounter++ / 2) * 1_800_000);
          return {
            ...req,
            path: api("/v1/appointments"),
            headers: json(p.patient.token),
            body: JSON.stringify({
              patientId: p.patient.id,
              doctorId: p.doctor.id,
              specialtyId: p.specialtyId,
              startAppointment: start.toISOString(),
              endAppointment: new Date(start.getTime() + 1_800_000).toISOString(),
              reason: "Control de carga",
            }),
          };
        },
      },
      {
        method: "POST",
        setupRequest: (req: Context, context: Context) => {
          const p = person(context);
          return {
            ...req,
            path: api(`/v1/consultations/${p.consultationId}/messages`),
            headers: json(p.doctor.token),
            body: JSON.stringify({ text: "¿Cómo sigue hoy?", clientMsgId: crypto.randomUUID() }),
          };
        },
        onResponse: (status: number, body: string) => {
          if (status === 201) record(JSON.parse(body).data?.message?.id);
        },
      },
      {
        method: "POST",
        setupRequest: (req: Context, context: Context) => {
          const p = person(context);
          return {
            ...req,
            path: api(`/v1/consultations/${p.consultationId}/files/prepare`),
            headers: json(p.patient.token),
            body: JSON.stringify({
              filename: "laboratorio.txt",
              mimeType: "text/plain",
              sizeBytes: FILE.length,
            }),
          };
        },
        onResponse: (status: number, body: string, context: Context) => {
          const data = status === 201 ? JSON.parse(body).data : undefined;
          context.fileId = data?.fileId;
          context.uploadPath = data
            ? new URL(data.uploadUrl).pathname + new URL(data.uploadUrl).search
            : undefined;
        },
      },
      {
        method: "PUT",
        setupRequest: (req: Context, context: Context) => ({
          ...req,
          path: context.uploadPath ?? "/storage/v1/object/upload/sign/consultation-files/missing",
          headers: { "Content-Type": "text/plain", Authorization: `Bearer ${person(context).patient.token}` },
          body: FILE,
        }),
      },
      {
        method: "POST",
        setupRequest: (req: Context, context: Context) => ({
          ...req,
          path: api(`/v1/consultations/${person(context).consultationId}/files/confirm`),
          headers: json(person(context).patient.token),
          body: JSON.stringify({ fileId: context.fileId ?? crypto.randomUUID() }),
        }),
        onResponse: (status: number, body: string) => {
          if (status === 201) record(JSON.parse(body).data?.id);
        },
      },
    ]),
  });
  instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    latencies.push(responseTime);
  });
  const result = await instance;

  // Give the last events time to arrive before counting them.
  await new Promise((r) => setTimeout(r, 1500));
  let received = 0;
  let duplicated = 0;
  let lost = 0;
  for (const id of acknowledged) {
    const times = mix.heard.get(id) ?? 0;
    if (times === 0) lost++;
    received += Math.min(times, 1);
    if (times > 1) duplicated++;
  }
  const errors = result.errors + result.timeouts +
    Object.entries(statuses).filter(([code]) => !/^2|^409$|^429$/.test(code))
      .reduce((sum, [, n]) => sum + n, 0);
  const memory = Deno.memoryUsage();
  return {
    connections: options.connections,
    durationSeconds: options.durationSeconds,
    requests: latencies.length,
    requestsPerSecond: latencies.length / options.durationSeconds,
    latency: summarize(latencies),
    statuses,
    errors,
    messages: { acknowledged: acknowledged.size, received, lost, duplicated },
    heapUsed: memory.heapUsed,
    rss: memory.rss,
  };
}

/** With MIX_DEBUG=1, every answer but 2xx, 409 and 429 is printed (to find why a mix errs). */
// deno-lint-ignore no-explicit-any
function withErrorLog(requests: any[]) {
  if (Deno.env.get("MIX_DEBUG") !== "1") return requests;
  return requests.map((request) => ({
    ...request,
    // deno-lint-ignore no-explicit-any
    onResponse(status: number, body: string, context: any) {
      if (!/^2|^409$|^429$/.test(String(status))) console.error(request.method, status, body.slice(0, 300));
      request.onResponse?.(status, body, context);
    },
  }));
}
