/**
 * A chat message's way to the other side of a live consultation, against a
 * bare WebSocket round trip through the same gateway and port.
 *
 * Measured ("event"): the doctor sends POST
 * /functions/v1/api/v1/consultations/{id}/messages; the database broadcasts
 * chat.message_created on the private channel consultation:{id} in the
 * request's transaction; the patient's real @supabase/supabase-js client,
 * subscribed to that channel, receives it. Timed from just before the POST
 * to the event's arrival, one message at a time.
 *
 * Baseline ("echo"): a WebSocket client sends a short text to GET /bench/echo,
 * upgraded by this module's own handler in front of the stack's gateway, which
 * sends every message back. Timed from the send to the echo, one at a time.
 *
 * The stack is the real local one (supabase/local/stack.ts: functions,
 * Realtime, gateway) on a fresh PostgreSQL database of its own, in this
 * process; the fixture (a doctor, a patient, a confirmed appointment, its
 * consultation checked in and started) goes through the API as in
 * tests/consultations.test.ts. Event and echo samples alternate.
 */
import { createClient, type RealtimeChannel, type SupabaseClient } from "@supabase/supabase-js";
import postgres from "postgres";
import type { WhatsAppSender } from "../shared/adapters/whatsapp/sender.ts";
import { createLogger } from "../shared/app/logger.ts";
import { createStack, type Stack } from "../supabase/local/stack.ts";
import { at, book, registerPatient, specialtyOf } from "../tests/helpers/clinic.ts";
import { call, createUser, RELAXED_LIMITS, type TestStack } from "../tests/helpers/stack.ts";
import { summarize, type Summary } from "./lib/stats.ts";

export interface RealtimeLatencyResult {
  /** POST of a chat message → chat.message_created at the patient's client (ms). */
  event: Summary;
  /** WebSocket send → echo received, same gateway and port (ms). */
  echo: Summary;
  /** Timed samples of each. */
  samples: number;
}

const ECHO_PATH = "/bench/echo";
/** A message or an echo that has not arrived after this long is a failure, not a sample. */
const ARRIVAL_TIMEOUT_MS = 10_000;

/** Cleanups, run in reverse order whatever happens. */
type Cleanup = () => Promise<void> | void;

async function runCleanups(cleanups: Cleanup[]) {
  for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) {
    try {
      await cleanup();
    } catch (error) {
      console.error("realtime-latency: while cleaning up:", error);
    }
  }
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: nothing after ${ARRIVAL_TIMEOUT_MS} ms`)),
      ARRIVAL_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Upgrades GET /bench/echo and sends every message back as it came. */
function echo(request: Request): Response {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onmessage = (event) => socket.send(event.data);
  return response;
}

/** The WhatsApp sender of the run: nothing is printed or sent (no step of the fixture needs it). */
const silentWhatsApp: WhatsAppSender = {
  name: "bench-silent",
  send: () =>
    Promise.resolve({ messageSid: `SM${crypto.randomUUID().replaceAll("-", "")}`, status: "queued" }),
};

/** The consultation of the run, in progress, and its two people's access tokens. */
async function startConsultation(s: TestStack) {
  const expect = (res: { status: number; body: unknown }, status: number, what: string) => {
    if (res.status !== status) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const patient = await registerPatient(s, admin, "Pablo");
  const booked = await book(s, admin.token, {
    patientId: patient.id,
    doctorId: doctor.id,
    specialtyId: await specialtyOf(s, doctor),
    start: at(2, 10),
    end: at(2, 10, 30),
  });
  expect(booked, 201, "book");
  const appointmentId = booked.body.data.id;
  const confirmed = await call(s, "PATCH", `/v1/appointments/${appointmentId}`, {
    token: doctor.token,
    body: { status: "CONFIRMED" },
  });
  expect(confirmed, 200, "confirm");
  const opened = await call(s, "POST", "/v1/consultations", { token: doctor.token, body: { appointmentId } });
  expect(opened, 201, "open the consultation");
  const id: string = opened.body.data.id;
  expect(
    await call(s, "POST", `/v1/consultations/${id}/check-in`, { token: patient.token }),
    200,
    "check in",
  );
  expect(await call(s, "POST", `/v1/consultations/${id}/start`, { token: doctor.token }), 200, "start");
  return { id, doctorToken: doctor.token, patientToken: patient.token };
}

function subscribe(channel: RealtimeChannel): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    channel.subscribe((status, err) => {
      if (done) return;
      done = true;
      if (status === "SUBSCRIBED") resolve();
      else reject(new Error(`the patient's join of ${channel.topic} ended ${status}: ${err?.message ?? ""}`));
    });
  });
}

function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error(`could not open ${url}`));
  });
}

/**
 * `databaseUrl`: a PostgreSQL server's `postgres` database as superuser; a
 * database for the stack is created on it and dropped after. `warmup` untimed
 * samples of each kind come before the `samples` timed ones.
 */
export async function measureRealtimeLatency(
  options: { samples: number; warmup: number; databaseUrl: string },
): Promise<RealtimeLatencyResult> {
  const cleanups: Cleanup[] = [];
  try {
    // The stack's database: bootstrap and migrations are applied by createStack (no seed).
    const name = `consultorio_bench_rt_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const admin = postgres(options.databaseUrl, { max: 1, onnotice: () => {} });
    cleanups.push(() => admin.end({ timeout: 5 }));
    await admin.unsafe(`create database ${name}`);
    cleanups.push(() => admin.unsafe(`drop database if exists ${name} with (force)`).then(() => {}));
    const databaseUrl = new URL(options.databaseUrl);
    databaseUrl.pathname = `/${name}`;

    const dataDir = await Deno.makeTempDir({ prefix: "consultorio-bench-rt-" });
    cleanups.push(() => Deno.remove(dataDir, { recursive: true }));

    // Listen first, as tests/helpers/stack.ts does: the stack gives its URL to the functions
    // (SUPABASE_URL, LIVEKIT_URL). The echo shares the gateway's server and port.
    const ready: { gateway?: Stack["handler"] } = {};
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request, info) => {
      if (new URL(request.url).pathname === ECHO_PATH) return echo(request);
      return ready.gateway ? ready.gateway(request, info) : new Response("starting", { status: 503 });
    });
    cleanups.push(() => server.shutdown());
    const origin = `http://127.0.0.1:${server.addr.port}`;

    const stack = await createStack({
      dataDir,
      env: {
        JWT_SECRET: crypto.randomUUID() + crypto.randomUUID(),
        DATABASE_URL: databaseUrl.toString(),
        WHATSAPP_SENDER: "console",
      },
      inMemory: true,
      seed: false,
      publicUrl: origin,
      overrides: {
        whatsapp: silentWhatsApp,
        logger: createLogger("warn"),
        // The run sends more messages than the product's limits let one doctor send.
        rateLimits: RELAXED_LIMITS,
      },
    });
    // Closed before the server shuts down: it closes the Realtime sockets the server would wait for.
    cleanups.push(() => stack.close());
    ready.gateway = stack.handler;

    // The shape the tests' fixture helpers take (they use the stack's database and its api URL only).
    const s: TestStack = {
      driver: "postgres",
      stack,
      origin,
      dataDir,
      api: (path) => `${origin}/functions/v1/api${path}`,
      outbox: [],
      logs: [],
      close: () => Promise.resolve(),
    };
    const consultation = await startConsultation(s);

    // The patient's client, as a frontend subscribes (tests/consultations.test.ts).
    const patient: SupabaseClient = createClient(origin, stack.anonKey, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    });
    cleanups.push(async () => {
      await patient.removeAllChannels();
      patient.realtime.disconnect();
    });
    await patient.realtime.setAuth(consultation.patientToken);
    const channel = patient.channel(`consultation:${consultation.id}`, { config: { private: true } });
    // Each message's event, told apart by its clientMsgId.
    const waiting = new Map<string, (arrivedAt: number) => void>();
    channel.on("broadcast", { event: "chat.message_created" }, ({ payload }) => {
      const arrivedAt = performance.now();
      waiting.get(payload?.message?.clientMsgId)?.(arrivedAt);
    });
    await subscribe(channel);

    const messagesUrl = s.api(`/v1/consultations/${consultation.id}/messages`);
    const headers = {
      Authorization: `Bearer ${consultation.doctorToken}`,
      "Content-Type": "application/json",
    };
    let sent = 0;
    const eventSample = async (): Promise<number> => {
      const clientMsgId = `bench-${++sent}`;
      const body = JSON.stringify({ clientMsgId, text: `Mensaje de prueba ${sent}` });
      const arrival = new Promise<number>((resolve) => waiting.set(clientMsgId, resolve));
      try {
        const started = performance.now();
        const res = await fetch(messagesUrl, { method: "POST", headers, body });
        const answer = await res.text();
        if (res.status !== 201) throw new Error(`POST messages answered ${res.status}: ${answer}`);
        // The event may arrive before the answer: either way it is its arrival that counts.
        return (await withTimeout(arrival, `chat.message_created of ${clientMsgId}`)) - started;
      } finally {
        waiting.delete(clientMsgId);
      }
    };

    const socket = await openSocket(`${origin.replace(/^http/, "ws")}${ECHO_PATH}`);
    cleanups.push(() => {
      if (socket.readyState !== WebSocket.OPEN) return;
      const closed = new Promise<void>((resolve) => socket.addEventListener("close", () => resolve()));
      socket.close();
      return closed;
    });
    let echoed: ((arrivedAt: number) => void) | undefined;
    socket.onmessage = () => echoed?.(performance.now());
    let echoes = 0;
    const echoSample = async (): Promise<number> => {
      const arrival = new Promise<number>((resolve) => (echoed = resolve));
      const started = performance.now();
      socket.send(`echo ${++echoes}`);
      return (await withTimeout(arrival, "echo")) - started;
    };

    for (let i = 0; i < options.warmup; i++) {
      await eventSample();
      await echoSample();
    }
    const event: number[] = [];
    const echoSamples: number[] = [];
    for (let i = 0; i < options.samples; i++) {
      event.push(await eventSample());
      echoSamples.push(await echoSample());
    }
    return { event: summarize(event), echo: summarize(echoSamples), samples: options.samples };
  } finally {
    await runCleanups(cleanups);
  }
}
