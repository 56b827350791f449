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
 * The stack is the real local one (the tests' startTestStack: functions,
 * Realtime, gateway) on a fresh PostgreSQL database of its own, in this
 * process; the fixture (a doctor, a patient, a confirmed appointment, its
 * consultation checked in and started) goes through the API
 * (startLiveConsultation). Event and echo samples alternate.
 */
import type { RealtimeChannel, SupabaseClient } from "@supabase/supabase-js";
import { platformClient } from "../tests/helpers/realtime.ts";
import { startLiveConsultation } from "../tests/helpers/clinic.ts";
import { prepareTestStacks } from "../tests/helpers/postgres-server.ts";
import { createUser, startTestStack } from "../tests/helpers/stack.ts";
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
    await prepareTestStacks(options.databaseUrl, "consultorio_bench_template");
    // The echo shares the gateway's server and port.
    const s = await startTestStack("postgres", {
      route: (request) => new URL(request.url).pathname === ECHO_PATH ? echo(request) : undefined,
      env: { LOG_LEVEL: "warn" },
    });
    cleanups.push(() => s.close());
    const { origin } = s;
    const admin = await createUser(s, "admin");
    const doctor = await createUser(s, "doctor");
    const start = new Date(Date.now() + 2 * 86_400_000);
    start.setUTCHours(10, 0, 0, 0);
    const consultation = await startLiveConsultation(s, { admin, doctor, patientName: "Pablo" }, start);

    // The patient's client, as a frontend subscribes (tests/consultations.test.ts).
    const patient: SupabaseClient = await platformClient(s, consultation.patient.token);
    cleanups.push(async () => {
      await patient.removeAllChannels();
      patient.realtime.disconnect();
    });
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
      Authorization: `Bearer ${doctor.token}`,
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
