/**
 * Realtime, against the LOCAL STAND-IN for Supabase Realtime
 * (supabase/local/realtime/), not against Supabase: the real
 * @supabase/supabase-js client (and, for protocol edges, a raw WebSocket)
 * talks to it over a real socket, on PGlite and on PostgreSQL.
 *
 * Each test starts the local stack as `deno task start` does and talks to
 * Realtime through its gateway; the protocol-edge tests that need other
 * limits (fewer channels, a short heartbeat timeout) serve a second instance
 * of the stand-in, with those options, through a gateway of their own.
 *
 * Covered: the private channels of a consultation (the server's
 * `consultation:{id}`, read-only for clients, and each member's own
 * `consultation:{id}:user:{userId}`: its doctor and patient exchange
 * broadcasts and see each other's presence join and leave on their own
 * topics; a member's broadcast, track or HTTP broadcast on the other's topic
 * or the server's is dropped; another patient, an admin, the anon key, a
 * forged token and the 30-day API token are refused with Supabase's errors);
 * platform tokens (a signed-out or admin-ended session's open channel stops
 * within REALTIME_TOKEN_TTL_SECONDS while a live one keeps receiving across
 * three lifetimes through supabase-js's accessToken option); self and ack; database broadcasts (`realtime.send`)
 * delivered exactly once when their transaction commits and never when it
 * rolls back; the HTTP broadcast API; protocol edges (heartbeat, unmatched
 * topic, malformed frames, limits, token expiry, heartbeat timeout, vsn
 * 1.0.0); and a soak of 20 clients x 200 broadcasts.
 */
import { createClient, type RealtimeChannel, type SupabaseClient } from "@supabase/supabase-js";
import { decodeJwt, SignJWT } from "jose";
import { createLogger } from "../shared/app/logger.ts";
import { createGateway } from "../supabase/local/gateway.ts";
import {
  createRealtimeServer,
  type RealtimeOptions,
  type RealtimeServer,
} from "../supabase/local/realtime/server.ts";
import { insertedConsultation, PATIENT_PASSWORD, registerPatient } from "./helpers/clinic.ts";
import { platformClient, platformTokenSource, subscribe } from "./helpers/realtime.ts";
import { assert, assertEquals, assertMatch } from "./helpers/std.ts";
import {
  call,
  login,
  realtimeToken,
  TEST_PASSWORD,
  testBothDrivers,
  type TestStack,
} from "./helpers/stack.ts";
import { eventually } from "./helpers/wait.ts";

// ---------------------------------------------------------------------------
// The stand-in, served on its own port
// ---------------------------------------------------------------------------

interface Realtime {
  origin: string;
  server: RealtimeServer;
  logs: string[];
  /** A supabase-js client with the anon key, and `token` for Realtime when given. */
  client(token?: string): Promise<SupabaseClient>;
  raw(options?: { vsn?: "1.0.0" | "2.0.0"; apikey?: string }): Promise<RawSocket>;
  close(): Promise<void>;
}

async function startRealtime(s: TestStack, options?: Partial<RealtimeOptions>): Promise<Realtime> {
  let origin = s.origin;
  let server = s.stack.realtime;
  let logs = s.logs;
  let stop = async () => {};
  if (options) {
    logs = [];
    const own = createRealtimeServer({
      db: s.stack.deps.db,
      tenantKeys: s.stack.tenantKeys,
      logger: createLogger("debug", (line) => logs.push(line)),
      heartbeatTimeoutMs: 30_000,
      joinErrorBackoffMs: 50,
      ...options,
    });
    await own.ready;
    const http = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      createGateway({ functions: {}, realtime: own.handle }),
    );
    origin = `http://127.0.0.1:${http.addr.port}`;
    server = own;
    stop = async () => {
      await own.close();
      await http.shutdown();
    };
  }
  const clients: SupabaseClient[] = [];
  const raws: RawSocket[] = [];
  return {
    origin,
    server,
    logs,
    async client(token) {
      // supabase-js's accessToken option: a bare realtime.setAuth(token) is replaced by the anon key
      // when supabase-js refreshes the token from its (empty) auth session, on connect and heartbeat.
      const client = token
        ? createClient(origin, s.stack.anonKey, { accessToken: () => Promise.resolve(token) })
        : createClient(origin, s.stack.anonKey, {
          auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
        });
      if (token) await client.realtime.setAuth();
      clients.push(client);
      return client;
    },
    async raw(options = {}) {
      const raw = await RawSocket.open(origin, options.apikey ?? s.stack.anonKey, options.vsn ?? "2.0.0");
      raws.push(raw);
      return raw;
    },
    async close() {
      await Promise.all(clients.map((c) => c.removeAllChannels().catch(() => {})));
      for (const raw of raws) raw.close();
      await stop();
    },
  };
}

// ---------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function joined(channel: RealtimeChannel) {
  const { status, err } = await subscribe(channel);
  assertEquals(status, "SUBSCRIBED", `join failed: ${err?.message}`);
}

// deno-lint-ignore no-explicit-any
type Payload = any;

function broadcasts(channel: RealtimeChannel, event = "*"): Payload[] {
  const seen: Payload[] = [];
  channel.on("broadcast", { event }, (message) => seen.push(message));
  return seen;
}

interface PresenceEvents {
  joins: Array<{ key: string; newPresences: Payload[] }>;
  leaves: Array<{ key: string; leftPresences: Payload[] }>;
}

function presenceEvents(channel: RealtimeChannel): PresenceEvents {
  const events: PresenceEvents = { joins: [], leaves: [] };
  channel.on(
    "presence",
    { event: "join" },
    ({ key, newPresences }) => events.joins.push({ key, newPresences }),
  );
  channel.on(
    "presence",
    { event: "leave" },
    ({ key, leftPresences }) => events.leaves.push({ key, leftPresences }),
  );
  return events;
}

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

interface Person {
  id: string;
  phone: string;
  /** The API token (30 days). */
  token: string;
  /** A platform token for Realtime (POST /v1/auth/realtime-token) of the same session. */
  rt: string;
  /** Their own topic in the consultation, `consultation:{id}:user:{userId}`: they send, the others read. */
  topic: string;
}

interface Consultation {
  id: string;
  /** The server's topic, `consultation:{id}`: read-only for clients. */
  topic: string;
  doctor: Person;
  patient: Person;
  otherPatient: Person;
  admin: Person;
}

/** A doctor, their patient with an appointment, its consultation (inserted as owner), another patient, an admin. */
async function consultation(s: TestStack): Promise<Consultation> {
  const { id, admin, doctor, patient } = await insertedConsultation(s);
  const otherPatient = await registerPatient(s, admin, "Paula");
  const topic = `consultation:${id}`;
  const person = async (p: { id: string; phone: string; token: string }): Promise<Person> => ({
    id: p.id,
    phone: p.phone,
    token: p.token,
    rt: await realtimeToken(s, p.token),
    topic: `${topic}:user:${p.id}`,
  });
  return {
    id,
    topic,
    doctor: await person(doctor),
    patient: await person(patient),
    otherPatient: await person(otherPatient),
    admin: await person(admin),
  };
}

const refusal = (topic: string) =>
  `Unauthorized: You do not have permissions to read from this Channel topic: ${topic}`;

async function signed(secret: string, claims: Record<string, unknown>, expiresAt: number): Promise<string> {
  return await new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime(expiresAt)
    .sign(new TextEncoder().encode(secret));
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------------------
// A raw Phoenix socket, for what supabase-js does not show
// ---------------------------------------------------------------------------

interface Frame {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: Payload;
}

class RawSocket {
  frames: Frame[] = [];
  closed: Promise<CloseEvent>;
  #ref = 0;

  private constructor(private ws: WebSocket, readonly vsn: "1.0.0" | "2.0.0") {
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => this.frames.push(this.#decode(e.data));
    this.closed = new Promise((resolve) => ws.addEventListener("close", (e) => resolve(e)));
  }

  static async open(origin: string, apikey: string, vsn: "1.0.0" | "2.0.0"): Promise<RawSocket> {
    const url = `${origin.replace("http", "ws")}/realtime/v1/websocket?apikey=${apikey}&vsn=${vsn}`;
    const ws = new WebSocket(url);
    const raw = new RawSocket(ws, vsn);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("raw socket did not open"));
    });
    return raw;
  }

  /** Sends a message; answers its ref. */
  push(topic: string, event: string, payload: unknown, joinRef: string | null = null): string {
    const ref = String(++this.#ref);
    this.ws.send(
      this.vsn === "2.0.0"
        ? JSON.stringify([joinRef, ref, topic, event, payload])
        : JSON.stringify({ join_ref: joinRef, ref, topic, event, payload }),
    );
    return ref;
  }

  sendRaw(data: string | Uint8Array) {
    this.ws.send(data);
  }

  async next(what: string, match: (f: Frame) => boolean, timeoutMs = 5_000): Promise<Frame> {
    let found: Frame | undefined;
    await eventually(what, () => (found = this.frames.find(match)) !== undefined, timeoutMs);
    return found!;
  }

  replyTo(ref: string, timeoutMs?: number): Promise<Frame> {
    return this.next(`reply to ${ref}`, (f) => f.event === "phx_reply" && f.ref === ref, timeoutMs);
  }

  async join(topic: string, config: Record<string, unknown>, accessToken?: string): Promise<Frame> {
    const payload = { config, ...(accessToken ? { access_token: accessToken } : {}) };
    const ref = this.push(topic, "phx_join", payload, String(this.#ref + 1));
    return await this.replyTo(ref);
  }

  close() {
    try {
      this.ws.close();
    } catch { /* closed */ }
  }

  #decode(data: string | ArrayBuffer): Frame {
    if (typeof data !== "string") {
      const bytes = new Uint8Array(data);
      const [, topicSize, eventSize, metaSize] = bytes;
      const text = (from: number, size: number) =>
        new TextDecoder().decode(bytes.subarray(from, from + size));
      const topic = text(5, topicSize);
      const event = text(5 + topicSize, eventSize);
      const body = text(5 + topicSize + eventSize + metaSize, bytes.length);
      return {
        joinRef: null,
        ref: null,
        topic,
        event: "broadcast",
        payload: { event, payload: JSON.parse(body) },
      };
    }
    const parsed = JSON.parse(data);
    if (Array.isArray(parsed)) {
      const [joinRef, ref, topic, event, payload] = parsed;
      return { joinRef, ref, topic, event, payload };
    }
    return {
      joinRef: parsed.join_ref,
      ref: parsed.ref,
      topic: parsed.topic,
      event: parsed.event,
      payload: parsed.payload,
    };
  }
}

// ---------------------------------------------------------------------------
// Private channels: who may join, broadcasts, presence
// ---------------------------------------------------------------------------

testBothDrivers("realtime (local stand-in): a consultation's private channels", async (t, s) => {
  const c = await consultation(s);
  const rt = await startRealtime(s);
  try {
    const doctor = await rt.client(c.doctor.rt);
    const patient = await rt.client(c.patient.rt);
    // Each says things on their own topic and listens on the other's.
    const doctorOwn = doctor.channel(c.doctor.topic, {
      config: { private: true, presence: { key: c.doctor.id } },
    });
    const doctorHears = doctor.channel(c.patient.topic, { config: { private: true } });
    const patientOwn = patient.channel(c.patient.topic, {
      config: { private: true, presence: { key: c.patient.id } },
    });
    const patientHears = patient.channel(c.doctor.topic, { config: { private: true } });
    const toDoctor = broadcasts(doctorHears);
    const toPatient = broadcasts(patientHears);
    const doctorSees = presenceEvents(doctorHears);
    const patientSees = presenceEvents(patientHears);

    await t.step("its doctor and its patient join their own topic and the other's", async () => {
      for (const channel of [doctorOwn, doctorHears, patientOwn, patientHears]) await joined(channel);
    });

    await t.step("a broadcast reaches the other member once, and not the sender (self is off)", async () => {
      const doctorOwnCopies = broadcasts(doctorOwn);
      assertEquals(
        await doctorOwn.send({ type: "broadcast", event: "typing", payload: { by: "doctor" } }),
        "ok",
      );
      await eventually("the patient to get it", () => toPatient.length === 1);
      assertEquals(toPatient[0].event, "typing");
      assertEquals(toPatient[0].payload, { by: "doctor" });
      await patientOwn.send({ type: "broadcast", event: "typing", payload: { by: "patient", n: 2 } });
      await eventually("the doctor to get it", () => toDoctor.length === 1);
      assertEquals(toDoctor[0].payload, { by: "patient", n: 2 });
      await pause(200);
      assertEquals(toPatient.length, 1, "the patient got a broadcast twice");
      assertEquals(doctorOwnCopies.length, 0, "the doctor got their own broadcast back");
    });

    await t.step("presence: each sees the other join with their payload, and leave", async () => {
      assertEquals(await doctorOwn.track({ userId: c.doctor.id, role: "doctor" }), "ok");
      await eventually(
        "the patient to see the doctor",
        () => patientSees.joins.some((j) => j.key === c.doctor.id),
      );
      assertEquals(patientSees.joins.find((j) => j.key === c.doctor.id)!.newPresences[0].role, "doctor");
      assertEquals(await patientOwn.track({ userId: c.patient.id, role: "patient" }), "ok");
      await eventually(
        "the doctor to see the patient",
        () => doctorSees.joins.some((j) => j.key === c.patient.id),
      );
      const state = doctorHears.presenceState<{ userId: string }>();
      assertEquals(Object.keys(state), [c.patient.id]);
      assertEquals(state[c.patient.id][0].userId, c.patient.id);

      assertEquals(await patientOwn.untrack(), "ok");
      await eventually(
        "the doctor to see the patient leave",
        () => doctorSees.leaves.some((l) => l.key === c.patient.id),
      );
      assertEquals(Object.keys(doctorHears.presenceState()), []);
    });

    await t.step("presence: a member who disconnects leaves", async () => {
      assertEquals(await patientOwn.track({ userId: c.patient.id }), "ok");
      await eventually(
        "the doctor to see the patient back",
        () => c.patient.id in doctorHears.presenceState(),
      );
      const leavesBefore = doctorSees.leaves.length;
      await patient.realtime.disconnect();
      await eventually("the doctor to see the patient leave", () => doctorSees.leaves.length > leavesBefore);
      assertEquals(doctorSees.leaves.at(-1)!.key, c.patient.id);
      assert(!(c.patient.id in doctorHears.presenceState()));
    });

    await t.step("a member who joins later receives the current presence state", async () => {
      const late = await rt.client(c.patient.rt);
      const lateChannel = late.channel(c.doctor.topic, {
        config: { private: true, presence: { key: "late" } },
      });
      let synced = false;
      lateChannel.on("presence", { event: "sync" }, () => synced = true);
      await joined(lateChannel);
      await eventually("the presence state", () => synced && c.doctor.id in lateChannel.presenceState());
      assertEquals(lateChannel.presenceState<{ role: string }>()[c.doctor.id][0].role, "doctor");
      await late.removeAllChannels();
    });

    await t.step(
      "self: true returns the sender's broadcast; ack: true waits for the server's answer",
      async () => {
        const again = await rt.client(c.patient.rt);
        const acked = again.channel(c.patient.topic, {
          config: { private: true, broadcast: { self: true, ack: true } },
        });
        const ownCopies = broadcasts(acked, "note");
        await joined(acked);
        const before = toDoctor.length;
        assertEquals(await acked.send({ type: "broadcast", event: "note", payload: { text: "hola" } }), "ok");
        await eventually("the sender's own copy", () => ownCopies.length === 1);
        await eventually("the doctor's copy", () => toDoctor.length === before + 1);
        const tooLarge = { text: "x".repeat(300 * 1024) };
        assertEquals(await acked.send({ type: "broadcast", event: "note", payload: tooLarge }), "error");
        await pause(200);
        assertEquals(ownCopies.length, 1, "an oversized broadcast went out");
        // A channel joined without presence may still track after broadcasting.
        assertEquals(await acked.track({ device: "tablet" }), "ok");
        await eventually(
          "the doctor to see it",
          () => doctorSees.joins.some((j) => j.newPresences[0]?.device === "tablet"),
        );
      },
    );

    await t.step(
      "a member may not send or track on the other's topic, nor on the server's (Supabase's insert check)",
      async () => {
        const forger = await rt.client(c.patient.rt);
        const onDoctors = forger.channel(c.doctor.topic, {
          config: { private: true, broadcast: { ack: true }, presence: { key: c.doctor.id } },
        });
        const onServers = forger.channel(c.topic, { config: { private: true, broadcast: { ack: true } } });
        const doctorOnServer = doctor.channel(c.topic, { config: { private: true } });
        const serverEvents = broadcasts(doctorOnServer);
        const readers = await rt.client(c.patient.rt);
        const fromDoctor = readers.channel(c.doctor.topic, { config: { private: true } });
        const heard = broadcasts(fromDoctor);
        const sees = presenceEvents(fromDoctor);
        for (const channel of [onDoctors, onServers, doctorOnServer, fromDoctor]) await joined(channel);
        // Without an answer from the server, an acked send times out in supabase-js.
        const forged = { type: "broadcast" as const, event: "typing", payload: { by: "doctor" } };
        assertEquals(await onDoctors.send(forged, { timeout: 500 }), "timed out");
        assertEquals(await onDoctors.track({ userId: c.doctor.id, forged: true }), "error");
        assertEquals(
          await onServers.send({
            type: "broadcast",
            event: "consultation.closed",
            payload: { consultationId: c.id, closedAt: new Date().toISOString() },
          }, { timeout: 500 }),
          "timed out",
        );
        assertEquals(await onServers.httpSend("consultation.closed", { consultationId: c.id }), {
          success: true, // the HTTP API answers 202 and drops what the insert policies refuse
        });
        // The rightful sender still gets through, after the forgeries.
        await doctorOwn.send({
          type: "broadcast",
          event: "typing",
          payload: { by: "doctor", rightful: true },
        });
        await eventually("the doctor's own signal", () => heard.some((m) => m.payload.rightful));
        await pause(200);
        assertEquals(heard.length, 1, "a forged broadcast reached the patient");
        assert(!sees.joins.some((j) => j.newPresences.some((p) => p.forged)), "a forged presence was seen");
        assertEquals(Object.keys(fromDoctor.presenceState()), [c.doctor.id]);
        assertEquals(serverEvents.length, 0, "a forged server event reached the doctor");
        await forger.removeAllChannels();
        await readers.removeAllChannels();
        await doctor.removeChannel(doctorOnServer);
      },
    );

    for (const who of ["otherPatient", "admin"] as const) {
      await t.step(
        `${who === "admin" ? "an admin" : "another patient"} is refused with Supabase's error`,
        async () => {
          const client = await rt.client(c[who].rt);
          for (const topic of [c.topic, c.doctor.topic]) {
            const channel = client.channel(topic, { config: { private: true } });
            const heard = broadcasts(channel);
            const { status, err } = await subscribe(channel);
            assertEquals(status, "CHANNEL_ERROR");
            assertEquals(err?.message, refusal(topic));
            await doctorOwn.send({ type: "broadcast", event: "secret", payload: { n: 1 } });
            await pause(200);
            assertEquals(heard.length, 0, "a refused client heard a broadcast");
          }
          // Nor on a topic of their own in someone else's consultation.
          const own = client.channel(`${c.topic}:user:${c[who].id}`, { config: { private: true } });
          assertEquals((await subscribe(own)).status, "CHANNEL_ERROR");
          await client.removeAllChannels();
        },
      );
    }

    await t.step(
      "the anon key may join a public channel but not the private one; the two never mix",
      async () => {
        const anon = await rt.client();
        const privateTry = anon.channel(c.patient.topic, { config: { private: true } });
        const { status, err } = await subscribe(privateTry);
        assertEquals(status, "CHANNEL_ERROR");
        assertEquals(err?.message, refusal(c.patient.topic));
        await anon.removeChannel(privateTry);
        const publicChannel = anon.channel(c.patient.topic);
        const heardPublic = broadcasts(publicChannel);
        await joined(publicChannel);
        const patientAgain = (await rt.client(c.patient.rt)).channel(c.patient.topic, {
          config: { private: true },
        });
        await joined(patientAgain);
        const doctorBefore = toDoctor.length;
        await publicChannel.send({ type: "broadcast", event: "public", payload: { n: 1 } });
        await patientAgain.send({ type: "broadcast", event: "private", payload: { n: 2 } });
        await eventually("the private broadcast", () => toDoctor.length === doctorBefore + 1);
        await pause(300);
        assertEquals(heardPublic.length, 0, "a private broadcast reached a public subscriber");
        assertEquals(toDoctor.at(-1).event, "private", "a public broadcast reached a private subscriber");
      },
    );

    await t.step(
      "a token signed with another secret, expired, or the 30-day API token is refused",
      async () => {
        const { iat: _, exp: __, ...claims } = decodeJwt(c.doctor.rt);
        const forged = await signed(
          "another-secret-another-secret-another-secret",
          claims,
          nowSeconds() + 600,
        );
        const expired = await signed(s.stack.tenantKeys.secret, claims, nowSeconds() - 60);
        const longLived = await signed(s.stack.tenantKeys.secret, claims, nowSeconds() + 2 * 3600);
        for (
          const [token, message] of [
            [forged, /^JwtSignatureError: Failed to validate JWT signature$/],
            [expired, /^InvalidJWTToken: Token has expired \d+ seconds ago$/],
            [c.doctor.token, new RegExp(`^${refusal(c.topic)}$`)],
            [longLived, new RegExp(`^${refusal(c.topic)}$`)],
          ] as const
        ) {
          const client = await rt.client(token);
          const channel = client.channel(c.topic, { config: { private: true } });
          const { status, err } = await subscribe(channel);
          assertEquals(status, "CHANNEL_ERROR");
          assertMatch(err?.message ?? "", message);
          await client.removeAllChannels();
        }
        const rightful = await rt.client(await signed(s.stack.tenantKeys.secret, claims, nowSeconds() + 600));
        await joined(rightful.channel(c.topic, { config: { private: true } }));
        await rightful.removeAllChannels();
      },
    );

    await t.step(
      "a signed-out session's token is refused, though unexpired; a new sign-in joins",
      async () => {
        const token = await login(s, c.patient.phone, PATIENT_PASSWORD);
        const platform = await realtimeToken(s, token);
        const before = await rt.client(platform);
        await joined(before.channel(c.topic, { config: { private: true } }));
        await before.removeAllChannels();

        assertEquals((await call(s, "POST", "/v1/auth/logout", { token })).status, 200);
        const after = await rt.client(platform);
        const { status, err } = await subscribe(after.channel(c.topic, { config: { private: true } }));
        assertEquals(status, "CHANNEL_ERROR");
        assertEquals(err?.message, refusal(c.topic));
        await after.removeAllChannels();
        assertEquals((await call(s, "POST", "/v1/auth/realtime-token", { token })).status, 401);

        const again = await rt.client(
          await realtimeToken(s, await login(s, c.patient.phone, PATIENT_PASSWORD)),
        );
        await joined(again.channel(c.topic, { config: { private: true } }));
        await again.removeAllChannels();
      },
    );
  } finally {
    await rt.close();
  }
});

// ---------------------------------------------------------------------------
// A session that ends stops receiving within its platform token's lifetime
// ---------------------------------------------------------------------------

const TTL_SECONDS = 3;

testBothDrivers(
  "realtime: an ended session's open channel stops within REALTIME_TOKEN_TTL_SECONDS; a live one goes on",
  async (t, s) => {
    const c = await consultation(s);
    const db = s.stack.deps.db;
    // What the database sends the consultation's members, numbered, with when each was sent.
    const sentAt: number[] = [];
    const emit = async () => {
      sentAt.push(Date.now());
      await db.execScript(
        `begin; select realtime.send('{"n":${
          sentAt.length - 1
        }}'::jsonb, 'tick', '${c.topic}', true); commit;`,
      );
    };
    const emitFor = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        await emit();
        await pause(250);
      }
    };

    interface Member {
      ticks: number[];
      statuses: string[];
      tokens: Set<string>;
      refused: number;
    }
    const member = async (apiToken: string) => {
      const m: Member = { ticks: [], statuses: [], tokens: new Set(), refused: 0 };
      const source = platformTokenSource(s, apiToken);
      const client = await platformClient(s, apiToken, {
        heartbeatIntervalMs: 500, // realtime-js asks for a token on every heartbeat
        accessToken: async () => {
          try {
            const token = await source();
            m.tokens.add(token);
            return token;
          } catch (error) {
            m.refused++;
            throw error;
          }
        },
      });
      const channel = client.channel(c.topic, { config: { private: true } });
      channel.on("broadcast", { event: "tick" }, ({ payload }) => m.ticks.push(payload.n));
      await new Promise<void>((resolve) =>
        channel.subscribe((status) => {
          m.statuses.push(status);
          if (status === "SUBSCRIBED") resolve();
        })
      );
      return { m, client };
    };
    const doctorSession = await login(s, c.doctor.phone, TEST_PASSWORD);
    const patientSession = await login(s, c.patient.phone, PATIENT_PASSWORD);
    const doctor = await member(doctorSession);
    const patient = await member(patientSession);
    const received = (m: Member, from: number, to = sentAt.length) =>
      m.ticks.filter((n) => n >= from && n < to).length;

    try {
      await t.step("both keep receiving across three token lifetimes, refreshing the token", async () => {
        await emitFor(3 * TTL_SECONDS * 1000);
        await eventually("the last tick", () => patient.m.ticks.includes(sentAt.length - 1));
        await eventually("the last tick", () => doctor.m.ticks.includes(sentAt.length - 1));
        assertEquals(received(patient.m, 0), sentAt.length, "a live session missed a tick");
        assertEquals(received(doctor.m, 0), sentAt.length, "a live session missed a tick");
        assert(patient.m.tokens.size >= 3, `${patient.m.tokens.size} tokens: the token was not refreshed`);
        assertEquals(patient.m.refused, 0);
      });

      await t.step("the doctor signs out: their open channel stops within the lifetime", async () => {
        const before = sentAt.length;
        assertEquals((await call(s, "POST", "/v1/auth/logout", { token: doctorSession })).status, 200);
        const signedOutAt = Date.now();
        await emitFor((TTL_SECONDS + 2) * 1000);
        await eventually("the last tick", () => patient.m.ticks.includes(sentAt.length - 1));
        // The bound: the token held at logout expires at most TTL_SECONDS later (plus the check's slack).
        const bound = signedOutAt + TTL_SECONDS * 1000 + 500;
        const late = doctor.m.ticks.filter((n) => n >= before && sentAt[n] > bound);
        assertEquals(late, [], "the signed-out session kept receiving past its token's lifetime");
        assert(received(doctor.m, before) < sentAt.length - before, "the doctor never stopped receiving");
        assert(doctor.m.refused > 0, "the dead session's refresh was not refused");
        assertEquals(received(patient.m, 0), sentAt.length, "the live session missed a tick");
        assertEquals(doctor.m.statuses.at(-1), "CLOSED");
        const lastHeard = Math.max(...doctor.m.ticks.filter((n) => n >= before).map((n) => sentAt[n]));
        console.log(
          `sign-out [${s.driver}]: the open channel's last event was sent ${
            lastHeard - signedOutAt
          } ms after ` +
            `the sign-out (token lifetime ${TTL_SECONDS} s, ${doctor.m.refused} refreshes refused)`,
        );
      });

      await t.step("an admin ends the patient's sessions: theirs stops too", async () => {
        const before = sentAt.length;
        const ended = await call(s, "POST", `/v1/user/${c.patient.id}/sessions/end`, {
          token: c.admin.token,
        });
        assertEquals(ended.status, 200, JSON.stringify(ended.body));
        const endedAt = Date.now();
        await emitFor((TTL_SECONDS + 2) * 1000);
        const bound = endedAt + TTL_SECONDS * 1000 + 500;
        assertEquals(patient.m.ticks.filter((n) => n >= before && sentAt[n] > bound), []);
        assert(received(patient.m, before) < sentAt.length - before, "the patient never stopped receiving");
      });
    } finally {
      await doctor.client.removeAllChannels().catch(() => {});
      await patient.client.removeAllChannels().catch(() => {});
    }
  },
  { env: { REALTIME_TOKEN_TTL_SECONDS: String(TTL_SECONDS) } },
);

// ---------------------------------------------------------------------------
// Broadcasts from the database
// ---------------------------------------------------------------------------

testBothDrivers(
  "realtime (local stand-in): realtime.send is delivered iff its transaction commits",
  async (t, s) => {
    const c = await consultation(s);
    const rt = await startRealtime(s);
    const db = s.stack.deps.db;
    const send = (payload: string, event: string, isPrivate = true) =>
      `select realtime.send('${payload}'::jsonb, '${event}', '${c.topic}', ${isPrivate});`;
    try {
      const doctorChannel = (await rt.client(c.doctor.rt)).channel(c.topic, { config: { private: true } });
      const patientChannel = (await rt.client(c.patient.rt)).channel(c.topic, {
        config: { private: true },
      });
      const publicChannel = (await rt.client()).channel(c.topic);
      const toDoctor = broadcasts(doctorChannel);
      const toPatient = broadcasts(patientChannel);
      const toPublic = broadcasts(publicChannel);
      await joined(doctorChannel);
      await joined(patientChannel);
      await joined(publicChannel);

      await t.step(
        "a row change that sends in a committed transaction is delivered exactly once",
        async () => {
          // The AFTER trigger of 20261123000400_live_consultations.sql sends consultation.closed.
          await db.execScript(`begin;
        update public.consultations set status = 'closed' where id = '${c.id}';
        commit;`);
          await eventually("both members to get it", () => toDoctor.length === 1 && toPatient.length === 1);
          await pause(300);
          assertEquals(toDoctor.length, 1, "delivered more than once");
          assertEquals(toPatient.length, 1, "delivered more than once");
          const message = toPatient[0];
          assertEquals(message.event, "consultation.closed");
          assertEquals(message.payload.consultationId, c.id);
          assert(typeof message.payload.closedAt === "string");
          assertMatch(message.meta?.id ?? "", /^[0-9a-f-]{36}$/);
          assertEquals(toPublic.length, 0, "a private database broadcast reached a public subscriber");
        },
      );

      await t.step("in a rolled-back transaction it is never delivered", async () => {
        await db.execScript(`begin;
        update public.appointments set reason = 'Un cambio que se deshace'
         where id = (select appointment_id from public.consultations where id = '${c.id}');
        ${send('{"step":"rolled back"}', "consultation.updated")}
        rollback;`);
        await db.execScript(`begin; ${send('{"step":"marker"}', "marker")} commit;`);
        await eventually("the marker", () => toDoctor.some((m) => m.event === "marker"));
        assertEquals(toDoctor.map((m) => m.event), ["consultation.closed", "marker"]);
        assertEquals(toPatient.map((m) => m.event), ["consultation.closed", "marker"]);
        const [row] = await db.queryAsOwner<{ status: string }>(
          "select status::text from public.consultations where id = $1",
          [c.id],
        );
        assertEquals(row.status, "closed");
      });

      await t.step(
        "many transactions, half rolled back: each committed one once, in commit order",
        async () => {
          toDoctor.length = 0;
          for (let i = 0; i < 40; i++) {
            await db.execScript(`begin; ${send(`{"i":${i}}`, "tick")} ${i % 2 ? "rollback" : "commit"};`);
          }
          await db.execScript(`begin; ${send('{"i":"end"}', "end")} commit;`);
          await eventually("the end marker", () => toDoctor.some((m) => m.event === "end"));
          const ticks = toDoctor.filter((m) => m.event === "tick").map((m) => m.payload.i);
          assertEquals(ticks, Array.from({ length: 20 }, (_, k) => k * 2));
        },
      );

      await t.step("private: false goes to the public channel only", async () => {
        const doctorBefore = toDoctor.length;
        await db.execScript(`begin; ${send('{"for":"everyone"}', "announce", false)} commit;`);
        await eventually("the public subscriber", () => toPublic.length === 1);
        const { id, ...rest } = toPublic[0].payload as { id: string };
        assertEquals(rest, { for: "everyone" });
        assert(/^[0-9a-f-]{36}$/.test(id), "realtime.send gives the payload an id, as Supabase's does");
        await db.execScript(`begin; ${send('{"i":"end2"}', "end2")} commit;`);
        await eventually("the marker", () => toDoctor.some((m) => m.event === "end2"));
        assertEquals(
          toDoctor.length,
          doctorBefore + 1,
          "a public database broadcast reached a private subscriber",
        );
      });

      await t.step("the HTTP broadcast API (httpSend) follows the insert policies", async () => {
        const hears = (await rt.client(c.patient.rt)).channel(c.doctor.topic, { config: { private: true } });
        const fromDoctor = broadcasts(hears);
        await joined(hears);
        const sender = (await rt.client(c.doctor.rt)).channel(c.doctor.topic, { config: { private: true } });
        assertEquals(await sender.httpSend("http", { from: "doctor" }), { success: true });
        await eventually("the patient", () => fromDoctor.some((m) => m.event === "http"));
        const patient = await rt.client(c.patient.rt);
        for (
          const intruder of [
            (await rt.client(c.otherPatient.rt)).channel(c.doctor.topic, { config: { private: true } }),
            patient.channel(c.doctor.topic, { config: { private: true } }),
            patient.channel(c.topic, { config: { private: true } }),
          ]
        ) {
          assertEquals(await intruder.httpSend("intrusion", { from: "stranger" }), { success: true });
        }
        await db.execScript(`begin; ${send('{"i":"end3"}', "end3")} commit;`);
        await sender.httpSend("end4", {});
        await eventually("the markers", () => toPatient.some((m) => m.event === "end3"));
        await eventually("the markers", () => fromDoctor.some((m) => m.event === "end4"));
        assert(!toDoctor.some((m) => m.event === "intrusion"), "a forged HTTP broadcast was delivered");
        assert(!fromDoctor.some((m) => m.event === "intrusion"), "a forged HTTP broadcast was delivered");
      });
    } finally {
      await rt.close();
    }
  },
);

// ---------------------------------------------------------------------------
// Protocol edges, with a raw socket
// ---------------------------------------------------------------------------

testBothDrivers("realtime (local stand-in): protocol edges", async (t, s) => {
  const c = await consultation(s);
  const rt = await startRealtime(s, { maxChannelsPerSocket: 3 });
  try {
    await t.step("heartbeat is answered; a message to an unjoined topic is 'unmatched topic'", async () => {
      const raw = await rt.raw();
      const heartbeat = await raw.replyTo(raw.push("phoenix", "heartbeat", {}));
      assertEquals(heartbeat.payload, { status: "ok", response: {} });
      const stray = await raw.replyTo(
        raw.push("realtime:nowhere", "broadcast", { type: "broadcast", event: "x" }),
      );
      assertEquals(stray.payload, { status: "error", response: { reason: "unmatched topic" } });
    });

    await t.step("ack: true is answered ok; without ack, a broadcast is not answered", async () => {
      const raw = await rt.raw();
      const reply = await raw.join("realtime:acks", { broadcast: { ack: true } });
      assertEquals(reply.payload, { status: "ok", response: { postgres_changes: [] } });
      const ref = raw.push(
        "realtime:acks",
        "broadcast",
        { type: "broadcast", event: "e", payload: {} },
        reply.joinRef,
      );
      assertEquals((await raw.replyTo(ref)).payload.status, "ok");
      const quiet = await rt.raw();
      const quietJoin = await quiet.join("realtime:quiet", {});
      const quietRef = quiet.push(
        "realtime:quiet",
        "broadcast",
        { type: "broadcast", event: "e" },
        quietJoin.joinRef,
      );
      await pause(300);
      assert(!quiet.frames.some((f) => f.ref === quietRef), "a broadcast without ack was answered");
    });

    await t.step("a malformed frame closes that socket only; the server keeps serving", async () => {
      const raw = await rt.raw();
      raw.sendRaw("this is not a phoenix message");
      const closed = await raw.closed;
      assertEquals(closed.code, 1007);
      const bad = await rt.raw();
      bad.sendRaw(new Uint8Array([3, 200, 200, 200, 200, 200, 1]));
      assertEquals((await bad.closed).code, 1007);
      const fresh = await rt.raw();
      assertEquals((await fresh.replyTo(fresh.push("phoenix", "heartbeat", {}))).payload.status, "ok");
      assert(!rt.logs.some((l) => l.includes("this is not a phoenix message")), "a payload reached the logs");
    });

    await t.step("channels per socket are bounded", async () => {
      const raw = await rt.raw();
      for (const n of [1, 2, 3]) {
        assertEquals((await raw.join(`realtime:room-${n}`, {})).payload.status, "ok");
      }
      const fourth = await raw.join("realtime:room-4", {});
      assertEquals(fourth.payload, {
        status: "error",
        response: { reason: "ChannelRateLimitReached: Too many channels" },
      });
    });

    await t.step(
      "a refreshed access_token is honoured; an expired one closes the channel like Supabase",
      async () => {
        const raw = await rt.raw();
        const topic = `realtime:${c.topic}`;
        const join = await raw.join(topic, { private: true }, c.doctor.rt);
        assertEquals(join.payload.status, "ok");
        const fresh = await realtimeToken(s, await login(s, c.doctor.phone, TEST_PASSWORD));
        raw.push(topic, "access_token", { access_token: fresh }, join.joinRef);
        // The server's topic is read-only, so a track is refused; but the channel lives on the fresh token.
        const ping = raw.push(
          topic,
          "presence",
          { type: "presence", event: "track", payload: { ok: 1 } },
          join.joinRef,
        );
        assertEquals((await raw.replyTo(ping)).payload.status, "error");
        const stranger = c.otherPatient.rt;
        raw.push(topic, "access_token", { access_token: stranger }, join.joinRef);
        const revoked = await raw.next("the revocation", (f) => f.event === "system");
        assertEquals(revoked.payload, {
          extension: "system",
          status: "error",
          message: `You do not have permissions to read from this Channel topic: ${c.topic}`,
          channel: c.topic,
        });
        await raw.next("phx_close", (f) => f.event === "phx_close" && f.joinRef === join.joinRef);

        const again = await raw.join(topic, { private: true }, c.doctor.rt);
        raw.frames.length = 0;
        const expired = await signed(
          s.stack.tenantKeys.secret,
          { role: "authenticated", sub: c.doctor.id },
          nowSeconds() - 5,
        );
        raw.push(topic, "access_token", { access_token: expired }, again.joinRef);
        const system = await raw.next("the expiry", (f) => f.event === "system");
        assertEquals(system.payload.status, "error");
        assertMatch(system.payload.message, /^Token has expired \d+ seconds ago$/);
        await raw.next("phx_close", (f) => f.event === "phx_close" && f.joinRef === again.joinRef);
      },
    );

    await t.step("a token that expires while joined closes the channel when it expires", async () => {
      const raw = await rt.raw();
      // The claims of the doctor's live session, with an expiry two seconds away.
      const { exp: _, iat: __, ...live } = decodeJwt(c.doctor.rt);
      const soon = await signed(s.stack.tenantKeys.secret, live, nowSeconds() + 2);
      const join = await raw.join(`realtime:${c.topic}`, { private: true }, soon);
      assertEquals(join.payload.status, "ok");
      const system = await raw.next("the expiry", (f) => f.event === "system", 5_000);
      assertMatch(system.payload.message, /^Token has expired/);
      await raw.next("phx_close", (f) => f.event === "phx_close");
    });

    await t.step("vsn 1.0.0 (JSON objects) works too", async () => {
      const v1 = await rt.raw({ vsn: "1.0.0" });
      const join = await v1.join("realtime:v1-room", { broadcast: { self: true } });
      assertEquals(join.payload.status, "ok");
      v1.push(
        "realtime:v1-room",
        "broadcast",
        { type: "broadcast", event: "hello", payload: { v: 1 } },
        join.joinRef,
      );
      const got = await v1.next("its own broadcast", (f) => f.event === "broadcast");
      assertEquals(got.payload, { type: "broadcast", event: "hello", payload: { v: 1 } });
    });

    await t.step("a socket with an invalid API key is refused at connection (401)", async () => {
      const res = await rt.server.handle(
        new Request(`${rt.origin}/realtime/v1/websocket?apikey=not-a-jwt&vsn=2.0.0`, {
          headers: { Upgrade: "websocket" },
        }),
      );
      assertEquals(res.status, 401);
      assertEquals(await res.json(), { error: "The token provided is not a valid JWT" });
    });
  } finally {
    await rt.close();
  }
});

testBothDrivers(
  "realtime (local stand-in): a silent socket times out and its presence leaves",
  async (_t, s) => {
    const rt = await startRealtime(s, { heartbeatTimeoutMs: 700 });
    try {
      const observer = await rt.client();
      const channel = observer.channel("lobby", { config: { presence: { key: "observer" } } });
      const seen = presenceEvents(channel);
      await joined(channel);
      const silent = await rt.raw();
      const join = await silent.join("realtime:lobby", { presence: { key: "silent", enabled: true } });
      const track = silent.push("realtime:lobby", "presence", {
        type: "presence",
        event: "track",
        payload: { n: 1 },
      }, join.joinRef);
      assertEquals((await silent.replyTo(track)).payload.status, "ok");
      await eventually("the observer to see it join", () => seen.joins.some((j) => j.key === "silent"));
      // The observer's client heartbeats every 25 s: keep it alive by hand while the raw socket stays silent.
      const keepAlive = setInterval(() => observer.realtime.sendHeartbeat(), 200);
      try {
        await eventually(
          "the observer to see it leave",
          () => seen.leaves.some((l) => l.key === "silent"),
          3_000,
        );
        assertEquals((await silent.closed).code, 1000);
        assertEquals(channel.state, "joined");
      } finally {
        clearInterval(keepAlive);
      }
    } finally {
      await rt.close();
    }
  },
);

// ---------------------------------------------------------------------------
// Soak
// ---------------------------------------------------------------------------

const SOAK_CLIENTS = 20;
const SOAK_BROADCASTS = 200;

testBothDrivers(
  "realtime (local stand-in): soak, 20 clients x 200 broadcasts, none lost or duplicated",
  async (_t, s) => {
    const c = await consultation(s);
    const rt = await startRealtime(s);
    try {
      const members = await Promise.all(Array.from({ length: SOAK_CLIENTS }, async () => {
        // Many sockets of the doctor's, on the doctor's own topic.
        const client = await rt.client(c.doctor.rt);
        const channel = client.channel(c.doctor.topic, { config: { private: true } });
        const received: Payload[] = [];
        channel.on("broadcast", { event: "soak" }, (m) => received.push(m.payload));
        await joined(channel);
        return { channel, received };
      }));
      const started = performance.now();
      await Promise.all(members.map(async ({ channel }, sender) => {
        for (let n = 0; n < SOAK_BROADCASTS; n++) {
          await channel.send({ type: "broadcast", event: "soak", payload: { sender, n } });
          if (n % 50 === 49) await pause(0);
        }
      }));
      const expected = (SOAK_CLIENTS - 1) * SOAK_BROADCASTS;
      await eventually(
        "every broadcast to arrive",
        () => members.every((m) => m.received.length >= expected),
        20_000,
      );
      await pause(300);
      const elapsed = performance.now() - started;
      for (const [i, { received }] of members.entries()) {
        assertEquals(received.length, expected, `client ${i} got ${received.length}, expected ${expected}`);
        const seen = new Set(received.map((p) => `${p.sender}:${p.n}`));
        assertEquals(seen.size, expected, `client ${i} got duplicates`);
        assert(!received.some((p) => p.sender === i), `client ${i} got its own broadcast`);
        for (let sender = 0; sender < SOAK_CLIENTS; sender++) {
          if (sender === i) continue;
          const order = received.filter((p) => p.sender === sender).map((p) => p.n);
          assertEquals(
            order,
            Array.from({ length: SOAK_BROADCASTS }, (_, n) => n),
            `client ${i}: sender ${sender} out of order`,
          );
        }
      }
      const total = expected * SOAK_CLIENTS;
      console.log(
        `soak [${s.driver}]: ${SOAK_CLIENTS * SOAK_BROADCASTS} broadcasts, ${total} deliveries in ` +
          `${Math.round(elapsed)} ms (${Math.round(total / (elapsed / 1000))} deliveries/s)`,
      );
    } finally {
      await rt.close();
    }
  },
);

// ---------------------------------------------------------------------------
// conversation:{id}: its participants, until they leave; never an admin
// ---------------------------------------------------------------------------

testBothDrivers("realtime (local stand-in): conversation:{id} is for its participants", async (t, s) => {
  const c = await consultation(s);
  const [conversation] = await s.stack.deps.db.queryAsOwner<{ id: string }>(
    "insert into public.conversations (type, created_by) values ('direct', $1) returning id",
    [c.patient.id],
  );
  await s.stack.deps.db.queryAsOwner(
    `insert into public.conversation_participants (conversation_id, user_id) values ($1, $2), ($1, $3)`,
    [conversation.id, c.doctor.id, c.patient.id],
  );
  const topic = `conversation:${conversation.id}`;
  const doctorTopic = `${topic}:user:${c.doctor.id}`;
  const rt = await startRealtime(s);
  try {
    await t.step("its doctor and patient join; the doctor's typing reaches the patient", async () => {
      const doctor = (await rt.client(c.doctor.rt)).channel(doctorTopic, { config: { private: true } });
      const patient = (await rt.client(c.patient.rt)).channel(doctorTopic, { config: { private: true } });
      const server = (await rt.client(c.patient.rt)).channel(topic, { config: { private: true } });
      const toPatient = broadcasts(patient, "typing");
      await joined(doctor);
      await joined(patient);
      await joined(server);
      await doctor.send({ type: "broadcast", event: "typing", payload: { userId: c.doctor.id } });
      await eventually("the typing signal", () => toPatient.length === 1);
      assertEquals(toPatient[0].payload, { userId: c.doctor.id });
      await patient.send({ type: "broadcast", event: "typing", payload: { userId: c.doctor.id } });
      await doctor.send({ type: "broadcast", event: "typing", payload: { userId: c.doctor.id, n: 2 } });
      await eventually("the second signal", () => toPatient.length === 2);
      await pause(200);
      assertEquals(toPatient.map((m) => m.payload.n), [undefined, 2], "a forged typing signal was delivered");
    });

    await t.step("another patient and an admin are refused with Supabase's error", async () => {
      for (const token of [c.otherPatient.rt, c.admin.rt]) {
        for (const refused of [topic, doctorTopic]) {
          const channel = (await rt.client(token)).channel(refused, { config: { private: true } });
          const { status, err } = await subscribe(channel);
          assertEquals(status, "CHANNEL_ERROR");
          assertEquals(err?.message, refusal(refused));
        }
      }
    });

    await t.step("a participant who left is refused", async () => {
      await s.stack.deps.db.queryAsOwner(
        "update public.conversation_participants set left_at = now() where conversation_id = $1 and user_id = $2",
        [conversation.id, c.patient.id],
      );
      const channel = (await rt.client(c.patient.rt)).channel(topic, { config: { private: true } });
      const { status, err } = await subscribe(channel);
      assertEquals(status, "CHANNEL_ERROR");
      assertEquals(err?.message, refusal(topic));
    });
  } finally {
    await rt.close();
  }
});
