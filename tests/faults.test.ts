/**
 * Faults (issue #16) over real HTTP: the database stopped and started under
 * the running product (a PostgreSQL server of this test's own, so that
 * stopping it disturbs no other test), and slow or dead outside services
 * (the LiveKit, Twilio and OpenAI stand-ins, made slow with setDelay) while
 * other requests keep answering and no database connection waits for them.
 *
 * Bounds are generous on purpose (a loaded 2-core machine): what is asserted
 * is an order (the other request answers while the slow call is still
 * pending) or a bound far from the normal time, never a tight latency.
 */
import postgres from "postgres";
import { DatabaseUnavailableError, isDatabaseUnavailable } from "../shared/db/database.ts";
import { assertProblem } from "./helpers/assertions.ts";
import { startLiveConsultation } from "./helpers/clinic.ts";
import { type PostgresServer, prepareTemplate, startPostgresServer } from "./helpers/postgres-server.ts";
import { assert, assertEquals } from "./helpers/std.ts";
import {
  call,
  type CallResult,
  createUser,
  PG_URL,
  startTestStack,
  testBothDrivers,
  type TestStack,
} from "./helpers/stack.ts";

const SLOW_MS = 3_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: Math.round(performance.now() - started) };
}

/** Connections of this stack's database that sit in a transaction doing nothing (PostgreSQL only). */
async function idleInTransaction(s: TestStack): Promise<number> {
  if (s.driver !== "postgres") return 0;
  const [row] = await s.stack.deps.db.queryAsOwner<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity
      where datname = current_database() and application_name = 'consultorio'
        and state in ('idle in transaction', 'idle in transaction (aborted)')`,
  );
  return row.n;
}

async function liveConsultation(s: TestStack) {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const start = new Date(Date.now() + 3 * 86_400_000);
  start.setUTCHours(11, 0, 0, 0);
  const { id, patient } = await startLiveConsultation(s, { admin, doctor }, start);
  return { admin, doctor, patient, id };
}

/** Both parties consent to record. */
async function consentBoth(s: TestStack, f: Awaited<ReturnType<typeof liveConsultation>>) {
  for (const party of [f.doctor, f.patient]) {
    const res = await call(s, "POST", `/v1/consultations/${f.id}/recording/consent`, {
      token: party.token,
      body: { granted: true },
    });
    assertEquals(res.status, 200, JSON.stringify(res.body));
  }
}

/**
 * Runs `request` while the video adapter's `method` does its work in LiveKit
 * and then throws, as if the process died right after LiveKit answered: the
 * call happened, its outcome never got back.
 */
async function dyingAfter(
  s: TestStack,
  method: "createRoom" | "startRecording",
  request: () => Promise<CallResult>,
): Promise<CallResult> {
  const real = s.stack.deps.video;
  s.stack.deps.video = {
    ...real,
    [method]: async (roomName: string) => {
      await real[method](roomName);
      throw new Error("the process died here");
    },
  };
  try {
    return await request();
  } finally {
    s.stack.deps.video = real;
  }
}

/**
 * Starts `slow` calls, then, once they are surely waiting on the slow
 * service, asks GET /v1/user/me and counts the connections idle in a
 * transaction. Answers the other request's time and whether the slow calls
 * were still pending when it answered.
 */
async function whileSlow(s: TestStack, token: string, slow: () => Promise<CallResult>[]) {
  const pending = slow();
  let settled = false;
  const all = Promise.all(pending).finally(() => settled = true);
  await sleep(500);
  const idleDuring = await idleInTransaction(s);
  const me = await timed(() => call(s, "GET", "/v1/user/me", { token }));
  const stillPending = !settled;
  const results = await all;
  return { me, stillPending, idleDuring, results };
}

// ---------------------------------------------------------------------------
// Outside services slow: nothing waits for them but their own request
// ---------------------------------------------------------------------------

testBothDrivers(
  "faults: a slow LiveKit holds no database connection; other requests answer",
  async (t, s) => {
    const f = await liveConsultation(s);
    const livekit = s.stack.livekit!;
    const baseline = await timed(() => call(s, "GET", "/v1/user/me", { token: f.doctor.token }));

    await t.step("24 room creations wait 3 s for LiveKit; GET /v1/user/me answers meanwhile", async () => {
      livekit.setDelay(SLOW_MS);
      try {
        const run = await whileSlow(
          s,
          f.doctor.token,
          () =>
            Array.from({ length: 24 }, (_, i) =>
              call(s, "POST", "/v1/video/rooms", {
                token: i % 2 ? f.patient.token : f.doctor.token,
                body: { consultationId: f.id },
              })),
        );
        console.log(
          `[${s.driver}] GET /v1/user/me: ${baseline.ms} ms alone, ${run.me.ms} ms (${run.me.value.status}) ` +
            `during 24 slow room creations; ${run.idleDuring} connections idle in transaction`,
        );
        assertEquals(run.me.value.status, 200);
        assert(run.stillPending, `GET /v1/user/me (${run.me.ms} ms) answered only after the slow calls`);
        assert(run.me.ms < SLOW_MS, `GET /v1/user/me took ${run.me.ms} ms`);
        assertEquals(run.idleDuring, 0, "connections idle in transaction while LiveKit is slow");
        assertEquals(
          run.results.map((r) => r.status).sort(),
          [...Array(23).fill(200), 201],
        );
      } finally {
        livekit.setDelay(0);
      }
      const [{ n }] = await s.stack.deps.db.queryAsOwner<{ n: number }>(
        "select count(*)::int as n from public.video_rooms where consultation_id = $1",
        [f.id],
      );
      assertEquals(n, 1);
    });

    await t.step("recording start and stop wait for Egress outside any transaction", async () => {
      await consentBoth(s, f);
      livekit.setDelay(SLOW_MS);
      try {
        const started = await whileSlow(s, f.patient.token, () => [
          call(s, "POST", `/v1/consultations/${f.id}/recording/start`, { token: f.doctor.token }),
        ]);
        assertEquals(started.results[0].status, 201, JSON.stringify(started.results[0].body));
        assert(started.stillPending && started.me.value.status === 200, "GET /v1/user/me waited for Egress");
        assertEquals(started.idleDuring, 0);
        const stopped = await whileSlow(s, f.patient.token, () => [
          call(s, "POST", `/v1/consultations/${f.id}/recording/stop`, { token: f.doctor.token }),
        ]);
        assertEquals(stopped.results[0].status, 200, JSON.stringify(stopped.results[0].body));
        assertEquals(stopped.results[0].body.data.recording.status, "ended");
        assert(stopped.stillPending, "GET /v1/user/me waited for Egress");
        assertEquals(stopped.idleDuring, 0);
      } finally {
        livekit.setDelay(0);
      }
    });
  },
);

testBothDrivers(
  "faults: slow Twilio and OpenAI hold no database connection; other requests answer",
  async (t, s) => {
    const admin = await createUser(s, "admin");
    const doctor = await createUser(s, "doctor");

    await t.step("a WhatsApp send waits 3 s for Twilio; GET /v1/user/me answers meanwhile", async () => {
      s.stack.twilio!.setDelay(SLOW_MS);
      try {
        const run = await whileSlow(s, doctor.token, () => [
          call(s, "POST", "/v1/twilio/whatsapp/send", {
            token: admin.token,
            body: { to: `whatsapp:${doctor.phone}`, body: "Recordatorio" },
          }),
        ]);
        assertEquals(run.results[0].status, 200, JSON.stringify(run.results[0].body));
        assert(run.stillPending && run.me.value.status === 200, "GET /v1/user/me waited for Twilio");
        assertEquals(run.idleDuring, 0);
      } finally {
        s.stack.twilio!.setDelay(0);
      }
    });

    await t.step("the assistant waits 3 s for OpenAI; GET /v1/user/me answers meanwhile", async () => {
      s.stack.openai!.setDelay(SLOW_MS);
      try {
        const run = await whileSlow(s, admin.token, () => [
          call(s, "POST", "/v1/openai/message", {
            token: doctor.token,
            body: { phone: doctor.phone, message: "Hola" },
          }),
        ]);
        assertEquals(run.results[0].status, 200, JSON.stringify(run.results[0].body));
        assert(run.stillPending && run.me.value.status === 200, "GET /v1/user/me waited for OpenAI");
        assertEquals(run.idleDuring, 0);
      } finally {
        s.stack.openai!.setDelay(0);
      }
    });
  },
  { twilio: true },
);

// ---------------------------------------------------------------------------
// A dead service: timeout, then the breaker fails fast
// ---------------------------------------------------------------------------

testBothDrivers(
  "faults: LiveKit not answering times out (503 SRV_002), then the breaker stops calling it",
  async (t, s) => {
    const f = await liveConsultation(s);
    const livekit = s.stack.livekit!;
    const creations = () => livekit.calls.get("livekit.RoomService/CreateRoom") ?? 0;
    const createRoom = () =>
      call(s, "POST", "/v1/video/rooms", { token: f.doctor.token, body: { consultationId: f.id } });

    livekit.setDelay(3_000);
    await t.step(
      "each of the first 3 calls waits the 500 ms timeout: 503 SRV_002 with Retry-After",
      async () => {
        for (let i = 0; i < 3; i++) {
          const res = await timed(createRoom);
          assertProblem(res.value, 503, "SRV_002");
          assert(Number(res.value.headers.get("retry-after")) >= 1);
          assert(res.ms < 5_000, `answered in ${res.ms} ms`);
        }
      },
    );

    await t.step("then the breaker is open: 503 at once, LiveKit not called, health says so", async () => {
      const before = creations();
      const res = await createRoom();
      assertProblem(res, 503, "SRV_002");
      const retryAfter = Number(res.headers.get("retry-after"));
      assert(retryAfter >= 1 && retryAfter <= 2, `Retry-After ${retryAfter}`);
      livekit.setDelay(0);
      assertEquals(creations(), before, "no call reached LiveKit while the breaker is open");
      const health = await fetch(`${s.origin}/functions/v1/api/health`).then((r) => r.json());
      assertEquals(health.database.status, "up");
    });

    await t.step("after the cool-down one call goes through, and it works again", async () => {
      await sleep(1_600);
      const res = await createRoom();
      assertEquals(res.status, 201, JSON.stringify(res.body));
    });
  },
  { env: { LIVEKIT_TIMEOUT_MS: "500", BREAKER_FAILURES: "3", BREAKER_COOLDOWN_MS: "1500" } },
);

// ---------------------------------------------------------------------------
// A crash between the outside call and its record: the retry completes it once
// ---------------------------------------------------------------------------

testBothDrivers(
  "faults: LiveKit acted but its outcome was lost (a room, a recording); the retry completes it once",
  async (t, s) => {
    const f = await liveConsultation(s);
    const livekit = s.stack.livekit!;
    const real = s.stack.deps.video;
    const rooms = async () =>
      (await s.stack.deps.db.queryAsOwner<{ room_sid: string }>(
        "select room_sid from public.video_rooms where consultation_id = $1",
        [f.id],
      )).map((r) => r.room_sid);

    await t.step("the room is created in LiveKit, then the process 'dies' before recording it", async () => {
      const res = await dyingAfter(
        s,
        "createRoom",
        () => call(s, "POST", "/v1/video/rooms", { token: f.doctor.token, body: { consultationId: f.id } }),
      );
      assertProblem(res, 503, "SRV_002");
      assertEquals(livekit.calls.get("livekit.RoomService/CreateRoom"), 1);
      assertEquals(await rooms(), [], "nothing recorded: the consultation is still pending its room");
    });

    await t.step(
      "the retry creates the same room again (LiveKit answers it) and records it once",
      async () => {
        const res = await call(s, "POST", "/v1/video/rooms", {
          token: f.doctor.token,
          body: { consultationId: f.id },
        });
        assertEquals(res.status, 201, JSON.stringify(res.body));
        const again = await call(s, "POST", "/v1/video/rooms", {
          token: f.patient.token,
          body: { consultationId: f.id },
        });
        assertEquals(again.status, 200, JSON.stringify(again.body));
        assertEquals(await rooms(), [res.body.data.roomSid]);
        const listed = await new (await import("livekit-server-sdk")).RoomServiceClient(
          s.origin,
          s.stack.deps.config.livekit.apiKey!,
          s.stack.deps.config.livekit.apiSecret!,
        ).listRooms([`consultation-${f.id}`]);
        assertEquals(listed.map((r) => r.sid), [res.body.data.roomSid], "one room in LiveKit");
      },
    );

    await t.step("LiveKit started the recording but the record was lost; the retry adopts it", async () => {
      await consentBoth(s, f);
      const starts = () => livekit.calls.get("livekit.Egress/StartRoomCompositeEgress") ?? 0;
      const res = await dyingAfter(
        s,
        "startRecording",
        () => call(s, "POST", `/v1/consultations/${f.id}/recording/start`, { token: f.doctor.token }),
      );
      assertProblem(res, 503, "SRV_002");
      assertEquals(starts(), 1);
      const recordings = () =>
        s.stack.deps.db.queryAsOwner<{ egress_id: string; status: string }>(
          "select egress_id, status from public.consultation_recordings where consultation_id = $1",
          [f.id],
        );
      assertEquals(await recordings(), [], "not recorded: LiveKit's egress is the pending state");
      const [running] = await real.activeRecordings(`consultation-${f.id}`);

      const retried = await call(s, "POST", `/v1/consultations/${f.id}/recording/start`, {
        token: f.doctor.token,
      });
      assertEquals(retried.status, 201, JSON.stringify(retried.body));
      assertEquals(retried.body.data.recording.egressId, running.egressId);
      assertEquals(starts(), 1, "no second egress");
      assertEquals(await recordings(), [{ egress_id: running.egressId, status: "active" }]);
    });
  },
);

// ---------------------------------------------------------------------------
// The database stopped and started under the running product
// ---------------------------------------------------------------------------

Deno.test({
  name: "faults: the database stops and starts under the running product [postgres]",
  ignore: !PG_URL,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    let server: PostgresServer | undefined;
    let s: TestStack | undefined;
    try {
      server = await startPostgresServer();
      await prepareTemplate(server.url, "faults");
      const url = new URL(server.url);
      url.pathname = "/faults";
      s = await startTestStack("postgres", {
        databaseUrl: url.toString(),
        env: { DB_CONNECT_TIMEOUT_SECONDS: "2" },
      });
      await run(t, server, s);
    } finally {
      await s?.close();
      await server?.stop();
    }
  },
});

async function run(t: Deno.TestContext, server: PostgresServer, s: TestStack) {
  const f = await liveConsultation(s);
  const health = async () => {
    const res = await fetch(`${s.origin}/functions/v1/api/health`);
    return { status: res.status, body: await res.json() };
  };
  const acknowledged = new Map<string, string>(); // clientMsgId → message id
  const attempted = new Set<string>();
  let counter = 0;
  const send = async () => {
    const clientMsgId = `m-${++counter}`;
    attempted.add(clientMsgId);
    const res = await call(s, "POST", `/v1/consultations/${f.id}/messages`, {
      token: counter % 2 ? f.doctor.token : f.patient.token,
      body: { text: `mensaje ${counter}`, clientMsgId },
    });
    if (res.status === 201 || res.status === 200) acknowledged.set(clientMsgId, res.body.data.message.id);
    return res;
  };

  await t.step("while writes stream in, the server stops: every answer is 201 or 503 SRV_003", async () => {
    let stopped = false;
    const answers: number[] = [];
    const writer = async () => {
      while (!stopped) answers.push((await send()).status);
    };
    const writers = Promise.all([writer(), writer(), writer()]);
    await sleep(400);
    await server.halt();
    await sleep(300);
    stopped = true;
    await writers;
    assert(answers.includes(201), "some writes were acknowledged before the stop");
    assert(answers.every((status) => status === 201 || status === 503), `answers: ${[...new Set(answers)]}`);
  });

  await t.step(
    "while it is down: 503 SRV_003 with Retry-After, fast; health says the database is down",
    async () => {
      for (
        const request of [
          () => send(),
          () => call(s, "GET", "/v1/user/me", { token: f.doctor.token }),
          () => call(s, "GET", `/v1/consultations/${f.id}/messages`, { token: f.patient.token }),
        ]
      ) {
        const res = await timed(request);
        assertProblem(res.value, 503, "SRV_003");
        assertEquals(res.value.headers.get("retry-after"), "5");
        assert(res.ms < 5_000, `answered in ${res.ms} ms`);
      }
      const down = await health();
      assertEquals(down.status, 503);
      assertEquals(down.body.database.status, "down");
      assertEquals(down.body.down, ["database"]);
    },
  );

  await t.step("it starts again: the product recovers without a restart", async () => {
    await server.resume();
    const resumed = performance.now();
    let recoveredMs: number | undefined;
    while (performance.now() - resumed < 15_000) {
      const res = await call(s, "GET", "/v1/user/me", { token: f.doctor.token });
      if (res.status === 200) {
        recoveredMs = Math.round(performance.now() - resumed);
        break;
      }
      assertProblem(res, 503, "SRV_003");
      await sleep(50);
    }
    assert(recoveredMs !== undefined, "not recovered within 15 s of the server's start");
    console.log(`[postgres] recovered ${recoveredMs} ms after the server was back`);
    assertEquals((await health()).body.down, []);
  });

  await t.step(
    "nothing lost or doubled: every acknowledged write is there once; retries add none twice",
    async () => {
      for (const clientMsgId of attempted) {
        const res = await call(s, "POST", `/v1/consultations/${f.id}/messages`, {
          token: Number(clientMsgId.slice(2)) % 2 ? f.doctor.token : f.patient.token,
          body: { text: `mensaje ${clientMsgId.slice(2)}`, clientMsgId },
        });
        assert(res.status === 200 || res.status === 201, JSON.stringify(res.body));
        const known = acknowledged.get(clientMsgId);
        if (known) assertEquals(res.status, 200, `acknowledged ${clientMsgId} was not there`);
        if (known) assertEquals(res.body.data.message.id, known);
      }
      const rows = await s.stack.deps.db.queryAsOwner<{ client_msg_id: string; n: number }>(
        `select client_msg_id, count(*)::int as n from public.consultation_messages
        where consultation_id = $1 group by client_msg_id`,
        [f.id],
      );
      assertEquals(rows.length, attempted.size);
      assert(rows.every((r) => r.n === 1), "a message stored twice");
    },
  );
}

// ---------------------------------------------------------------------------
// The pool full: a quick 503, not a growing queue
// ---------------------------------------------------------------------------

Deno.test({
  name:
    "faults: with every pooled connection busy, a request waits DB_POOL_WAIT_MS, then 503 SRV_003 [postgres]",
  ignore: !PG_URL,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const s = await startTestStack("postgres", { env: { DB_POOL_SIZE: "2", DB_POOL_WAIT_MS: "300" } });
    const blocker = postgres(s.stack.deps.config.database.url!, { max: 1, onnotice: () => {} });
    try {
      const user = await createUser(s, "doctor");
      // Another client locks the users table: each GET /v1/user/me then holds its connection, waiting.
      const lock = await blocker.reserve();
      await lock.unsafe("begin");
      await lock.unsafe("lock table public.users in access exclusive mode");
      const me = () => call(s, "GET", "/v1/user/me", { token: user.token });
      const held = [me(), me()];
      await sleep(300);
      const third = await timed(me);
      assertProblem(third.value, 503, "SRV_003");
      assertEquals(third.value.headers.get("retry-after"), "5");
      assert(third.ms < 3_000, `answered in ${third.ms} ms`);
      await lock.unsafe("commit");
      lock.release();
      assertEquals((await Promise.all(held)).map((r) => r.status), [200, 200]);
      assertEquals((await me()).status, 200);
    } finally {
      await blocker.end();
      await s.close();
    }
  },
});

Deno.test("faults: which errors mean the database is unreachable for now (503 SRV_003), and which do not", () => {
  const withCode = (code: string) => Object.assign(new Error("x"), { code });
  for (
    const code of [
      "ECONNREFUSED",
      "CONNECT_TIMEOUT",
      "CONNECTION_CLOSED",
      "CONNECTION_ENDED",
      "CONNECTION_DESTROYED",
      "57P01",
      "57P02",
      "57P03",
      "08006",
      "08001",
      "53300",
    ]
  ) {
    assert(isDatabaseUnavailable(withCode(code)), code);
  }
  assert(isDatabaseUnavailable(new Error("PGlite is closed")), "PGlite closed");
  assert(isDatabaseUnavailable(new DatabaseUnavailableError("pool_timeout", "no connection")), "pool");
  for (const code of ["23505", "40001", "P0001", "42501", "ENOENT"]) {
    assert(!isDatabaseUnavailable(withCode(code)), code);
  }
  assert(!isDatabaseUnavailable(new Error("boom")));
});
