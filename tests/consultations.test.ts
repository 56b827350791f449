/**
 * Live consultations (issue #6) over real HTTP, on PGlite and on PostgreSQL.
 *
 * What is real and what is a stand-in:
 *   - the API, the database (RLS, triggers, realtime.send) and the clients
 *     (@supabase/supabase-js for Realtime and Storage) are the real ones;
 *   - Storage and Realtime are the LOCAL STAND-IN for Supabase's
 *     (supabase/local/storage/, supabase/local/realtime/), reached through the
 *     test stack's gateway;
 *   - LiveKit is not contacted at all: its tokens are JWTs signed locally by
 *     livekit-server-sdk, decoded here to check their grants.
 *
 * Covered: the full visit (open, check-in with queue position, start, token,
 * chat both ways with chat.message_created on the other side's channel, the
 * delivered receipt with chat.message_delivered, a file uploaded through its
 * signed URL, confirmed and downloaded back identical, close with
 * consultation.closed, then every write refused with 409 CON_001), and the
 * attacks, each next to the rightful user's success: another patient (404
 * everywhere), an admin (redacted GET; 403 on token, messages and files; a
 * refused channel join), a token before start and after close, a retried
 * send, a confirm of a file never uploaded, a file over the size limit.
 */
import { createClient, type RealtimeChannel, type SupabaseClient } from "@supabase/supabase-js";
import { decodeJwt } from "jose";
import { assertProblem } from "./helpers/assertions.ts";
import { at, book, registerPatient, specialtyOf, type TestPatient } from "./helpers/clinic.ts";
import { assert, assertEquals, assertMatch } from "./helpers/std.ts";
import { call, createUser, testBothDrivers, type TestStack, type TestUser } from "./helpers/stack.ts";
import { eventually } from "./helpers/wait.ts";

// deno-lint-ignore no-explicit-any
type Payload = any;

interface Fixture {
  admin: TestUser;
  doctor: TestUser;
  patient: TestPatient;
  otherPatient: TestPatient;
  appointmentId: string;
}

/** A doctor and their patient with a CONFIRMED appointment (booked and confirmed through the API). */
async function fixture(s: TestStack, day = 2): Promise<Fixture> {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const patient = await registerPatient(s, admin, "Pablo");
  const otherPatient = await registerPatient(s, admin, "Paula");
  const booked = await book(s, admin.token, {
    patientId: patient.id,
    doctorId: doctor.id,
    specialtyId: await specialtyOf(s, doctor),
    start: at(day, 10),
    end: at(day, 10, 30),
  });
  assertEquals(booked.status, 201, JSON.stringify(booked.body));
  const confirmed = await call(s, "PATCH", `/v1/appointments/${booked.body.data.id}`, {
    token: doctor.token,
    body: { status: "CONFIRMED" },
  });
  assertEquals(confirmed.status, 200, JSON.stringify(confirmed.body));
  return { admin, doctor, patient, otherPatient, appointmentId: booked.body.data.id };
}

async function openConsultation(s: TestStack, f: Fixture): Promise<string> {
  const res = await call(s, "POST", "/v1/consultations", {
    token: f.doctor.token,
    body: { appointmentId: f.appointmentId },
  });
  assertEquals(res.status, 201, JSON.stringify(res.body));
  return res.body.data.id;
}

function expectStatus(res: { status: number; body: Payload }, status: number) {
  assertEquals(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
}

// ---------------------------------------------------------------------------
// Realtime and Storage, as a frontend uses them
// ---------------------------------------------------------------------------

async function realtimeClient(s: TestStack, token: string): Promise<SupabaseClient> {
  const client = createClient(s.origin, s.stack.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
  await client.realtime.setAuth(token);
  return client;
}

function subscribe(channel: RealtimeChannel): Promise<{ status: string; err?: Error }> {
  return new Promise((resolve) => {
    let done = false;
    channel.subscribe((status, err) => {
      if (done) return;
      done = true;
      resolve({ status, err });
    });
  });
}

function heard(channel: RealtimeChannel): Array<{ event: string; payload: Payload }> {
  const seen: Array<{ event: string; payload: Payload }> = [];
  channel.on(
    "broadcast",
    { event: "*" },
    (message) => seen.push({ event: message.event, payload: message.payload }),
  );
  return seen;
}

function storageAs(s: TestStack, token: string) {
  return createClient(s.origin, s.stack.anonKey, { accessToken: () => Promise.resolve(token) }).storage;
}

// ---------------------------------------------------------------------------
// The full visit
// ---------------------------------------------------------------------------

testBothDrivers("consultations: the full visit, with chat, a file and realtime events", async (t, s) => {
  const f = await fixture(s);
  const doctorRt = await realtimeClient(s, f.doctor.token);
  const patientRt = await realtimeClient(s, f.patient.token);
  try {
    let id = "";
    await t.step("the doctor opens it for the confirmed appointment; opening again answers it", async () => {
      id = await openConsultation(s, f);
      const again = await call(s, "POST", "/v1/consultations", {
        token: f.doctor.token,
        body: { appointmentId: f.appointmentId },
      });
      expectStatus(again, 200);
      assertEquals(again.body.data.id, id);
      assertEquals(again.body.data.status, "waiting");
      assertEquals(again.body.data.queueItem, null);
      assertEquals(again.body.data.roomName, null);
    });

    const topic = () => `consultation:${id}`;
    let doctorHeard: Array<{ event: string; payload: Payload }> = [];
    let patientHeard: Array<{ event: string; payload: Payload }> = [];
    let doctorChannel: RealtimeChannel;
    await t.step("both join the private channel consultation:{id}", async () => {
      doctorChannel = doctorRt.channel(topic(), { config: { private: true } });
      const patientChannel = patientRt.channel(topic(), { config: { private: true } });
      doctorHeard = heard(doctorChannel);
      patientHeard = heard(patientChannel);
      assertEquals((await subscribe(doctorChannel)).status, "SUBSCRIBED");
      assertEquals((await subscribe(patientChannel)).status, "SUBSCRIBED");
      const joined = await call(s, "POST", `/v1/consultations/${id}/join`, { token: f.patient.token });
      expectStatus(joined, 200);
      assertEquals(joined.body.data.ok, true);
      assertEquals(joined.body.data.consultationStatus, "waiting");
      assert(Math.abs(Date.parse(joined.body.data.serverTime) - Date.now()) < 60_000);
    });

    await t.step("a token before start is 409 CON_002", async () => {
      const res = await call(s, "POST", `/v1/consultations/${id}/livekit-token`, { token: f.patient.token });
      assertProblem(res, 409, "CON_002");
    });

    await t.step("the patient checks in: first in the doctor's queue", async () => {
      const res = await call(s, "POST", `/v1/consultations/${id}/check-in`, { token: f.patient.token });
      expectStatus(res, 200);
      assertEquals(res.body.data.queueItem.position, 1);
      assertEquals(res.body.data.queueItem.checkedInAt, res.body.data.checkedInAt);
      const seen = await call(s, "GET", `/v1/consultations/${id}`, { token: f.doctor.token });
      assertEquals(seen.body.data.queueItem.position, 1);
    });

    await t.step("the doctor starts it: in_progress, with its LiveKit room", async () => {
      const res = await call(s, "POST", `/v1/consultations/${id}/start`, { token: f.doctor.token });
      expectStatus(res, 200);
      assertEquals(res.body.data.status, "in_progress");
      assertEquals(res.body.data.videoProvider, "livekit");
      assertEquals(res.body.data.roomName, `consultation-${id}`);
      assertEquals(res.body.data.queueItem, null);
      assert(res.body.data.startedAt);
    });

    await t.step("tokens carry each role's grants (decoded, never sent to LiveKit)", async () => {
      const roomName = `consultation-${id}`;
      const doctor = await call(s, "POST", `/v1/consultations/${id}/livekit-token`, {
        token: f.doctor.token,
      });
      expectStatus(doctor, 200);
      assertEquals(doctor.body.data.roomName, roomName);
      assertEquals(doctor.body.data.livekitUrl, s.origin.replace("http", "ws"));
      const d = decodeJwt<Payload>(doctor.body.data.token);
      assertEquals(d.sub, f.doctor.id);
      assertEquals(d.iss, "devkey");
      assert(d.exp - d.nbf <= 600, "the token is short-lived");
      assertEquals(d.video.roomJoin, true);
      assertEquals(d.video.room, roomName);
      assertEquals(d.video.canSubscribe, true);
      assertEquals(d.video.canPublishSources, ["camera", "microphone", "screen_share"]);
      assertEquals(d.video.roomAdmin, true);

      const patient = await call(s, "POST", `/v1/consultations/${id}/livekit-token`, {
        token: f.patient.token,
      });
      expectStatus(patient, 200);
      const p = decodeJwt<Payload>(patient.body.data.token);
      assertEquals(p.sub, f.patient.id);
      assertEquals(p.video.roomJoin, true);
      assertEquals(p.video.room, roomName);
      assertEquals(p.video.canSubscribe, true);
      assertEquals(p.video.canPublishSources, ["camera", "microphone"]);
      assert(!p.video.roomAdmin, "the patient does not administer the room");
    });

    let patientMessageId = "";
    await t.step("chat both ways: each message arrives on the other side's channel", async () => {
      const sent = await call(s, "POST", `/v1/consultations/${id}/messages`, {
        token: f.patient.token,
        body: { clientMsgId: "p-1", text: "Hola doctor" },
      });
      expectStatus(sent, 201);
      assertEquals(sent.body.data.ok, true);
      assertEquals(sent.body.data.clientMsgId, "p-1");
      const message = sent.body.data.message;
      patientMessageId = message.id;
      assertEquals(message.kind, "text");
      assertEquals(message.text, "Hola doctor");
      assertEquals(message.senderId, f.patient.id);
      assertEquals(message.consultationId, id);
      assertEquals(message.deliveredAt, null);
      const event = await eventually(
        "chat.message_created at the doctor",
        () =>
          doctorHeard.find((e) => e.event === "chat.message_created" && e.payload.message.id === message.id),
      );
      assertEquals(event.payload.message.text, "Hola doctor");
      assertEquals(event.payload.message.createdAt, message.createdAt);

      const reply = await call(s, "POST", `/v1/consultations/${id}/messages`, {
        token: f.doctor.token,
        body: { text: "Hola Pablo, ¿cómo sigue?" },
      });
      expectStatus(reply, 201);
      assertEquals(reply.body.data.clientMsgId, null);
      await eventually(
        "chat.message_created at the patient",
        () =>
          patientHeard.find((e) =>
            e.event === "chat.message_created" && e.payload.message.id === reply.body.data.message.id
          ),
      );
    });

    await t.step("a retried send with the same clientMsgId returns the same message, one row", async () => {
      const retry = await call(s, "POST", `/v1/consultations/${id}/messages`, {
        token: f.patient.token,
        body: { clientMsgId: "p-1", text: "Hola doctor" },
      });
      expectStatus(retry, 200);
      assertEquals(retry.body.data.message.id, patientMessageId);
      const [{ n }] = await s.stack.deps.db.queryAsOwner<{ n: number }>(
        "select count(*)::int as n from public.consultation_messages where client_msg_id = 'p-1'",
      );
      assertEquals(n, 1);
    });

    await t.step("the recipient marks it delivered (once); the sender may not", async () => {
      const bySender = await call(
        s,
        "POST",
        `/v1/consultations/${id}/messages/${patientMessageId}/delivered`,
        {
          token: f.patient.token,
        },
      );
      assertProblem(bySender, 403, "AUTH_002");
      const res = await call(s, "POST", `/v1/consultations/${id}/messages/${patientMessageId}/delivered`, {
        token: f.doctor.token,
      });
      expectStatus(res, 200);
      const deliveredAt = res.body.data.deliveredAt;
      assert(deliveredAt);
      const event = await eventually(
        "chat.message_delivered at the patient",
        () => patientHeard.find((e) => e.event === "chat.message_delivered"),
      );
      assertEquals(event.payload.messageId, patientMessageId);
      assertEquals(event.payload.deliveredAt, deliveredAt);
      const again = await call(s, "POST", `/v1/consultations/${id}/messages/${patientMessageId}/delivered`, {
        token: f.doctor.token,
      });
      assertEquals(again.body.data.deliveredAt, deliveredAt);
    });

    let fileId = "";
    const bytes = new TextEncoder().encode("Resultados de laboratorio: normales.\n".repeat(50));
    await t.step("a file: prepare, upload through the signed URL, confirm, download identical", async () => {
      const prepared = await call(s, "POST", `/v1/consultations/${id}/files/prepare`, {
        token: f.patient.token,
        body: { filename: "laboratorio.txt", mimeType: "text/plain", sizeBytes: bytes.length },
      });
      expectStatus(prepared, 201);
      fileId = prepared.body.data.fileId;
      assertEquals(prepared.body.data.bucket, "consultation-files");
      assertEquals(prepared.body.data.objectKey, `${id}/${fileId}`);
      const uploadUrl = new URL(prepared.body.data.uploadUrl);
      const uploaded = await storageAs(s, f.patient.token).from("consultation-files").uploadToSignedUrl(
        prepared.body.data.objectKey,
        uploadUrl.searchParams.get("token")!,
        new Blob([bytes], { type: "text/plain" }),
      );
      assertEquals(uploaded.error, null);

      const confirmed = await call(s, "POST", `/v1/consultations/${id}/files/confirm`, {
        token: f.patient.token,
        body: { fileId },
      });
      expectStatus(confirmed, 201);
      assertEquals(confirmed.body.data.kind, "file");
      assertEquals(confirmed.body.data.file, {
        fileId,
        filename: "laboratorio.txt",
        mimeType: "text/plain",
        sizeBytes: bytes.length,
      });
      await eventually(
        "the file's chat.message_created at the doctor",
        () =>
          doctorHeard.find((e) => e.event === "chat.message_created" && e.payload.message.kind === "file"),
      );
      const twice = await call(s, "POST", `/v1/consultations/${id}/files/confirm`, {
        token: f.patient.token,
        body: { fileId },
      });
      expectStatus(twice, 200);
      assertEquals(twice.body.data.id, confirmed.body.data.id);

      const download = await call(s, "GET", `/v1/consultations/${id}/files/${fileId}/download`, {
        token: f.doctor.token,
      });
      expectStatus(download, 200);
      const res = await fetch(download.body.data.downloadUrl);
      assertEquals(res.status, 200);
      assertEquals(new Uint8Array(await res.arrayBuffer()), bytes);
      const [{ n }] = await s.stack.deps.db.queryAsOwner<{ n: number }>(
        `select count(*)::int as n from public.consultation_files f
          where row_to_json(f)::text ~* 'https?://'`,
      );
      assertEquals(n, 0, "no URL is stored");
    });

    await t.step("the message list pages by (createdAt, id)", async () => {
      const first = await call(s, "GET", `/v1/consultations/${id}/messages?limit=2`, {
        token: f.doctor.token,
      });
      expectStatus(first, 200);
      assertEquals(first.body.data.items.length, 2);
      assert(first.body.data.pageInfo.nextCursor);
      const rest = await call(
        s,
        "GET",
        `/v1/consultations/${id}/messages?limit=2&cursor=${first.body.data.pageInfo.nextCursor}`,
        { token: f.patient.token },
      );
      assertEquals(rest.body.data.items.length, 1);
      assertEquals(rest.body.data.items[0].kind, "file");
      assertEquals(rest.body.data.pageInfo.nextCursor, null);
    });

    await t.step("the doctor closes it: consultation.closed on the channel; again is a no-op", async () => {
      const res = await call(s, "POST", `/v1/consultations/${id}/close`, { token: f.doctor.token });
      expectStatus(res, 200);
      assertEquals(res.body.data.status, "closed");
      const event = await eventually(
        "consultation.closed at the patient",
        () => patientHeard.find((e) => e.event === "consultation.closed"),
      );
      assertEquals(event.payload.consultationId, id);
      assertEquals(event.payload.closedAt, res.body.data.closedAt);
      const again = await call(s, "POST", `/v1/consultations/${id}/close`, { token: f.doctor.token });
      expectStatus(again, 200);
      assertEquals(again.body.data.closedAt, res.body.data.closedAt);
      assertEquals(doctorHeard.filter((e) => e.event === "consultation.closed").length, 1);
    });

    await t.step("after close every write is 409 CON_001", async () => {
      const writes: Array<[string, string, TestUser | TestPatient, unknown?]> = [
        ["POST", `/v1/consultations/${id}/messages`, f.patient, { text: "¿Sigue ahí?" }],
        ["POST", `/v1/consultations/${id}/messages/${patientMessageId}/delivered`, f.doctor],
        ["POST", `/v1/consultations/${id}/livekit-token`, f.doctor],
        ["POST", `/v1/consultations/${id}/livekit-token`, f.patient],
        ["POST", `/v1/consultations/${id}/files/prepare`, f.patient, {
          filename: "x.txt",
          mimeType: "text/plain",
          sizeBytes: 10,
        }],
        ["POST", `/v1/consultations/${id}/files/confirm`, f.patient, { fileId: crypto.randomUUID() }],
        ["POST", `/v1/consultations/${id}/start`, f.doctor],
        ["POST", `/v1/consultations/${id}/check-in`, f.patient],
      ];
      for (const [method, path, who, body] of writes) {
        const res = await call(s, method, path, { token: who.token, body });
        if (path.endsWith("/files/confirm")) {
          // a file that does not exist is not found before the state is looked at
          assertProblem(res, 404, "RES_001");
          continue;
        }
        assertProblem(res, 409, "CON_001");
      }
      // Reads still work for its members.
      expectStatus(await call(s, "GET", `/v1/consultations/${id}/messages`, { token: f.patient.token }), 200);
      expectStatus(
        await call(s, "GET", `/v1/consultations/${id}/files/${fileId}/download`, { token: f.patient.token }),
        200,
      );
    });
  } finally {
    await doctorRt.removeAllChannels().catch(() => {});
    await patientRt.removeAllChannels().catch(() => {});
  }
});

// ---------------------------------------------------------------------------
// Attacks, each next to the rightful user's success
// ---------------------------------------------------------------------------

testBothDrivers("consultations: another patient, an admin and bad requests are refused", async (t, s) => {
  const f = await fixture(s);
  const id = await openConsultation(s, f);
  expectStatus(await call(s, "POST", `/v1/consultations/${id}/check-in`, { token: f.patient.token }), 200);
  expectStatus(await call(s, "POST", `/v1/consultations/${id}/start`, { token: f.doctor.token }), 200);
  const sent = await call(s, "POST", `/v1/consultations/${id}/messages`, {
    token: f.doctor.token,
    body: { text: "Bienvenido" },
  });
  expectStatus(sent, 201);
  const messageId = sent.body.data.message.id;
  const prepared = await call(s, "POST", `/v1/consultations/${id}/files/prepare`, {
    token: f.doctor.token,
    body: { filename: "receta.pdf", mimeType: "application/pdf", sizeBytes: 3 },
  });
  expectStatus(prepared, 201);
  const fileId = prepared.body.data.fileId;

  await t.step("another patient: 404 everywhere, while the patient succeeds", async () => {
    const requests: Array<[string, string, unknown?]> = [
      ["GET", `/v1/consultations/${id}`],
      ["POST", `/v1/consultations/${id}/join`],
      ["POST", `/v1/consultations/${id}/livekit-token`],
      ["GET", `/v1/consultations/${id}/messages`],
      ["POST", `/v1/consultations/${id}/messages`, { text: "intruso" }],
      ["POST", `/v1/consultations/${id}/messages/${messageId}/delivered`],
      ["POST", `/v1/consultations/${id}/files/prepare`, {
        filename: "a.txt",
        mimeType: "text/plain",
        sizeBytes: 1,
      }],
      ["POST", `/v1/consultations/${id}/files/confirm`, { fileId }],
      ["GET", `/v1/consultations/${id}/files/${fileId}/download`],
      ["POST", `/v1/consultations/${id}/check-in`],
    ];
    for (const [method, path, body] of requests) {
      assertProblem(await call(s, method, path, { token: f.otherPatient.token, body }), 404, "RES_001");
    }
    const list = await call(s, "GET", "/v1/consultations", { token: f.otherPatient.token });
    assertEquals(list.body.data, []);
    for (const [method, path, body] of requests.slice(0, 3)) {
      expectStatus(await call(s, method, path, { token: f.patient.token, body }), 200);
    }
    const mine = await call(s, "GET", "/v1/consultations", { token: f.patient.token });
    assertEquals(mine.body.data.map((c: Payload) => c.id), [id]);
    assertEquals(mine.body.data[0].roomName, `consultation-${id}`);
  });

  await t.step("another patient may not open a consultation; nor the appointment's own patient", async () => {
    const res = await call(s, "POST", "/v1/consultations", {
      token: f.patient.token,
      body: { appointmentId: f.appointmentId },
    });
    assertProblem(res, 403, "AUTH_002");
  });

  await t.step("an admin reads only the operational state (no roomName), in the database too", async () => {
    const res = await call(s, "GET", `/v1/consultations/${id}`, { token: f.admin.token });
    expectStatus(res, 200);
    assertEquals(res.body.data.status, "in_progress");
    assertEquals(res.body.data.id, id);
    assert(!("roomName" in res.body.data), "an admin sees no roomName");
    const list = await call(s, "GET", "/v1/consultations", { token: f.admin.token });
    const row = list.body.data.find((c: Payload) => c.id === id);
    assert(row && !("roomName" in row));
    // In SQL, as the admin: no consultation row, no messages, no files.
    const visible = await s.stack.deps.db.queryAsCaller<{ c: number; m: number; f: number }>(
      adminClaims(f.admin),
      `select (select count(*)::int from public.consultations) as c,
              (select count(*)::int from public.consultation_messages) as m,
              (select count(*)::int from public.consultation_files) as f`,
    );
    assertEquals(visible[0], { c: 0, m: 0, f: 0 });
    const doctorView = await call(s, "GET", `/v1/consultations/${id}`, { token: f.doctor.token });
    assertEquals(doctorView.body.data.roomName, `consultation-${id}`);
  });

  await t.step("an admin gets 403 on token, messages and files", async () => {
    const requests: Array<[string, string, unknown?]> = [
      ["POST", `/v1/consultations/${id}/livekit-token`],
      ["GET", `/v1/consultations/${id}/messages`],
      ["POST", `/v1/consultations/${id}/messages`, { text: "hola" }],
      ["POST", `/v1/consultations/${id}/messages/${messageId}/delivered`],
      ["POST", `/v1/consultations/${id}/files/prepare`, {
        filename: "a.txt",
        mimeType: "text/plain",
        sizeBytes: 1,
      }],
      ["POST", `/v1/consultations/${id}/files/confirm`, { fileId }],
      ["GET", `/v1/consultations/${id}/files/${fileId}/download`],
      ["POST", `/v1/consultations/${id}/join`],
    ];
    for (const [method, path, body] of requests) {
      assertProblem(await call(s, method, path, { token: f.admin.token, body }), 403, "AUTH_002");
    }
  });

  await t.step("an admin cannot join the channel, while the doctor can", async () => {
    const topic = `consultation:${id}`;
    const admin = await realtimeClient(s, f.admin.token);
    const doctor = await realtimeClient(s, f.doctor.token);
    try {
      const refused = await subscribe(admin.channel(topic, { config: { private: true } }));
      assertEquals(refused.status, "CHANNEL_ERROR");
      assertMatch(refused.err?.message ?? "", /Unauthorized/);
      assertEquals(
        (await subscribe(doctor.channel(topic, { config: { private: true } }))).status,
        "SUBSCRIBED",
      );
    } finally {
      await admin.removeAllChannels().catch(() => {});
      await doctor.removeAllChannels().catch(() => {});
    }
  });

  await t.step("a confirm of a file never uploaded is 409 FILE_002 and creates nothing", async () => {
    const res = await call(s, "POST", `/v1/consultations/${id}/files/confirm`, {
      token: f.doctor.token,
      body: { fileId },
    });
    assertProblem(res, 409, "FILE_002");
    const [{ n }] = await s.stack.deps.db.queryAsOwner<{ n: number }>(
      "select count(*)::int as n from public.consultation_messages where kind = 'file'",
    );
    assertEquals(n, 0);
    const download = await call(s, "GET", `/v1/consultations/${id}/files/${fileId}/download`, {
      token: f.doctor.token,
    });
    assertProblem(download, 404, "RES_001");
  });

  await t.step("a file over 10 MiB is 413 FILE_001 naming sizeBytes; a bad name or type is 400", async () => {
    const big = await call(s, "POST", `/v1/consultations/${id}/files/prepare`, {
      token: f.patient.token,
      body: { filename: "tomografia.png", mimeType: "image/png", sizeBytes: 10 * 1024 * 1024 + 1 },
    });
    assertProblem(big, 413, "FILE_001");
    assertEquals(big.body.errors[0].field, "sizeBytes");
    const exactly = await call(s, "POST", `/v1/consultations/${id}/files/prepare`, {
      token: f.patient.token,
      body: { filename: "tomografia.png", mimeType: "image/png", sizeBytes: 10 * 1024 * 1024 },
    });
    expectStatus(exactly, 201);
    const path = await call(s, "POST", `/v1/consultations/${id}/files/prepare`, {
      token: f.patient.token,
      body: { filename: "../etc/passwd", mimeType: "text/plain", sizeBytes: 10 },
    });
    assertProblem(path, 400, "VAL_001");
    assertEquals(path.body.errors[0].field, "filename");
    const exe = await call(s, "POST", `/v1/consultations/${id}/files/prepare`, {
      token: f.patient.token,
      body: { filename: "virus.exe", mimeType: "application/x-msdownload", sizeBytes: 10 },
    });
    assertProblem(exe, 400, "VAL_001");
    assertEquals(exe.body.errors[0].field, "mimeType");
  });

  await t.step("a token after close is 409 CON_001; the admin closes it", async () => {
    const closed = await call(s, "POST", `/v1/consultations/${id}/close`, { token: f.admin.token });
    expectStatus(closed, 200);
    assert(!("roomName" in closed.body.data));
    assertProblem(
      await call(s, "POST", `/v1/consultations/${id}/livekit-token`, { token: f.doctor.token }),
      409,
      "CON_001",
    );
  });

  await t.step("only a confirmed appointment opens a consultation", async () => {
    const other = await book(s, f.admin.token, {
      patientId: f.otherPatient.id,
      doctorId: f.doctor.id,
      specialtyId: await specialtyOf(s, f.doctor),
      start: at(4, 11),
      end: at(4, 11, 30),
    });
    expectStatus(other, 201);
    const pending = await call(s, "POST", "/v1/consultations", {
      token: f.doctor.token,
      body: { appointmentId: other.body.data.id },
    });
    assertProblem(pending, 409, "CON_003");
    const missing = await call(s, "POST", "/v1/consultations", {
      token: f.doctor.token,
      body: { appointmentId: crypto.randomUUID() },
    });
    assertProblem(missing, 404, "RES_001");
  });
});

testBothDrivers("consultations: the doctor's waiting queue is ordered by check-in time", async (_t, s) => {
  const f = await fixture(s);
  const first = await openConsultation(s, f);
  // A second confirmed appointment of the same doctor, with the other patient.
  const booked = await book(s, f.admin.token, {
    patientId: f.otherPatient.id,
    doctorId: f.doctor.id,
    specialtyId: await specialtyOf(s, f.doctor),
    start: at(2, 11),
    end: at(2, 11, 30),
  });
  expectStatus(booked, 201);
  expectStatus(
    await call(s, "PATCH", `/v1/appointments/${booked.body.data.id}`, {
      token: f.admin.token,
      body: { status: "CONFIRMED" },
    }),
    200,
  );
  const opened = await call(s, "POST", "/v1/consultations", {
    token: f.admin.token,
    body: { appointmentId: booked.body.data.id },
  });
  expectStatus(opened, 201);
  assert(!("roomName" in opened.body.data));
  const second = opened.body.data.id;
  // The other patient checks in first.
  const a = await call(s, "POST", `/v1/consultations/${second}/check-in`, { token: f.otherPatient.token });
  assertEquals(a.body.data.queueItem.position, 1);
  const b = await call(s, "POST", `/v1/consultations/${first}/check-in`, { token: f.patient.token });
  assertEquals(b.body.data.queueItem.position, 2);
  // Once the first in line starts, the next moves up.
  expectStatus(await call(s, "POST", `/v1/consultations/${second}/start`, { token: f.doctor.token }), 200);
  const now = await call(s, "GET", `/v1/consultations/${first}`, { token: f.patient.token });
  assertEquals(now.body.data.queueItem.position, 1);
  // The admin sees the queue too (operational state).
  const admin = await call(s, "GET", `/v1/consultations/${first}`, { token: f.admin.token });
  assertEquals(admin.body.data.queueItem.position, 1);
});

function adminClaims(admin: TestUser) {
  return decodeJwt<Payload>(admin.token);
}

// ---------------------------------------------------------------------------
// The files bucket in Storage, through supabase-js with each user's own token
// ---------------------------------------------------------------------------

const FILES_BUCKET = "consultation-files";

/** Prepares a file through the API and uploads it through its signed URL, as a frontend does. */
async function uploadPrepared(s: TestStack, id: string, who: TestUser | TestPatient, text: string) {
  const bytes = new TextEncoder().encode(text);
  const prepared = await call(s, "POST", `/v1/consultations/${id}/files/prepare`, {
    token: who.token,
    body: { filename: "notas.txt", mimeType: "text/plain", sizeBytes: bytes.length },
  });
  expectStatus(prepared, 201);
  const { fileId, objectKey, uploadUrl } = prepared.body.data;
  const uploadToken = new URL(uploadUrl).searchParams.get("token")!;
  const uploaded = await storageAs(s, who.token).from(FILES_BUCKET).uploadToSignedUrl(
    objectKey,
    uploadToken,
    new Blob([bytes], { type: "text/plain" }),
  );
  return { fileId: fileId as string, key: objectKey as string, uploadToken, bytes, error: uploaded.error };
}

async function confirm(s: TestStack, id: string, who: TestUser | TestPatient, fileId: string) {
  expectStatus(
    await call(s, "POST", `/v1/consultations/${id}/files/confirm`, { token: who.token, body: { fileId } }),
    201,
  );
}

/** The object as Storage has it, asked with the service role (no policy in the way). */
async function stored(s: TestStack, key: string) {
  return await s.stack.deps.storage.objectInfo(FILES_BUCKET, key);
}

/** What the API's download hands out for the file, fetched: its bytes, or the failure. */
async function downloaded(s: TestStack, id: string, who: TestUser | TestPatient, fileId: string) {
  const res = await call(s, "GET", `/v1/consultations/${id}/files/${fileId}/download`, { token: who.token });
  expectStatus(res, 200);
  return new Uint8Array(await (await fetch(res.body.data.downloadUrl)).arrayBuffer());
}

testBothDrivers("consultations: Storage keeps its files as the record has them", async (t, s) => {
  const f = await fixture(s);
  const id = await openConsultation(s, f);
  const asPatient = storageAs(s, f.patient.token).from(FILES_BUCKET);
  const asDoctor = storageAs(s, f.doctor.token).from(FILES_BUCKET);

  const doctors = await uploadPrepared(s, id, f.doctor, "Indicaciones del médico");
  const patients = await uploadPrepared(s, id, f.patient, "Síntomas del paciente");
  const pending = await uploadPrepared(s, id, f.patient, "Un borrador");

  await t.step("an upload to the URL its prepare signed works", async () => {
    for (const upload of [doctors, patients, pending]) {
      assertEquals(upload.error, null);
      assertEquals((await stored(s, upload.key))?.size, upload.bytes.length);
    }
    await confirm(s, id, f.doctor, doctors.fileId);
    await confirm(s, id, f.patient, patients.fileId);
  });

  await t.step("a participant's delete of the other party's confirmed file is refused", async () => {
    const removed = await asPatient.remove([doctors.key]);
    assertEquals(removed.data, [], JSON.stringify(removed));
    const one = await fetch(`${s.origin}/storage/v1/object/${FILES_BUCKET}/${doctors.key}`, {
      method: "DELETE",
      headers: { apikey: s.stack.anonKey, Authorization: `Bearer ${f.patient.token}` },
    });
    assertEquals((await one.json()).statusCode, "403");
    assertEquals(await downloaded(s, id, f.doctor, doctors.fileId), doctors.bytes);
    assertEquals(await downloaded(s, id, f.patient, doctors.fileId), doctors.bytes);
  });

  await t.step("one's own confirmed file is part of the record: not deleted either", async () => {
    assertEquals((await asPatient.remove([patients.key])).data, []);
    assertEquals((await asDoctor.remove([doctors.key])).data, []);
    assertEquals(await downloaded(s, id, f.doctor, patients.fileId), patients.bytes);
    // Not by the service role either: the database refuses it to every role.
    const admin = createClient(s.origin, s.stack.serviceRoleKey).storage.from(FILES_BUCKET);
    const byService = await admin.remove([patients.key]);
    assert(byService.error, "the service role's delete of a confirmed file is refused");
    assertEquals((await stored(s, patients.key))?.size, patients.bytes.length);
  });

  await t.step(
    "an unconfirmed file: the other party neither reads nor deletes it; its uploader does",
    async () => {
      assertStorageRefused((await asDoctor.createSignedUrl(pending.key, 60)).error, "404");
      assertEquals((await asDoctor.remove([pending.key])).data, []);
      assert(await stored(s, pending.key), "still there after the doctor's delete");
      assertEquals((await asPatient.createSignedUrl(pending.key, 60)).error, null);
      const removed = await asPatient.remove([pending.key]);
      assertEquals(removed.data?.map((o) => o.name), [pending.key]);
      assertEquals(await stored(s, pending.key), undefined);
    },
  );

  await t.step("a direct upload into the consultation's folder, without a prepare, is refused", async () => {
    const key = `${id}/${crypto.randomUUID()}`;
    const blob = new Blob(["<html><script>alert(1)</script></html>"], { type: "text/plain" });
    assertStorageRefused((await asPatient.upload(key, blob)).error, "403");
    assertStorageRefused((await asPatient.createSignedUploadUrl(key)).error, "403");
    // Nor over a prepared slot's object, nor over a confirmed one (an upsert).
    assertStorageRefused((await asPatient.upload(patients.key, blob, { upsert: true })).error, "403");
    // Even the service role stores nothing where no prepare made a slot.
    const admin = createClient(s.origin, s.stack.serviceRoleKey).storage.from(FILES_BUCKET);
    assertStorageRefused((await admin.upload(key, blob)).error, "403");
    assertEquals(await stored(s, key), undefined);
    assertEquals(await downloaded(s, id, f.patient, patients.fileId), patients.bytes);
  });

  await t.step(
    "after close nothing is written: neither through a URL signed before, nor deleted",
    async () => {
      const bytes = new TextEncoder().encode("tarde");
      const prepared = await call(s, "POST", `/v1/consultations/${id}/files/prepare`, {
        token: f.patient.token,
        body: { filename: "tarde.txt", mimeType: "text/plain", sizeBytes: bytes.length },
      });
      expectStatus(prepared, 201);
      const late = await uploadPrepared(s, id, f.patient, "subido antes del cierre");
      assertEquals(late.error, null);
      expectStatus(await call(s, "POST", `/v1/consultations/${id}/close`, { token: f.doctor.token }), 200);

      const { objectKey, uploadUrl } = prepared.body.data;
      const upload = await asPatient.uploadToSignedUrl(
        objectKey,
        new URL(uploadUrl).searchParams.get("token")!,
        new Blob([bytes], { type: "text/plain" }),
      );
      assertStorageRefused(upload.error, "403");
      assertEquals(await stored(s, objectKey), undefined);
      assertStorageRefused(
        (await asPatient.upload(`${id}/${crypto.randomUUID()}`, new Blob([bytes], { type: "text/plain" })))
          .error,
        "403",
      );
      assertEquals((await asPatient.remove([late.key])).data, []);
      assert(await stored(s, late.key), "the unconfirmed file stays once closed");
      // Reading the record still works.
      assertEquals(await downloaded(s, id, f.doctor, doctors.fileId), doctors.bytes);
    },
  );
});

/** A Storage refusal as supabase-js reports it: HTTP 400, the real status in `statusCode`. */
function assertStorageRefused(error: unknown, statusCode: string) {
  assert(error, `expected a Storage error ${statusCode}`);
  assertEquals((error as { statusCode?: string }).statusCode, statusCode, JSON.stringify(error));
}

/** The smallest complete PNG (1×1), then `extra` bytes of its IDAT. */
function pngFile(extra = 0): Uint8Array<ArrayBuffer> {
  const head = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52];
  const ihdr = [0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89];
  const idat = [
    (extra >>> 24) & 255,
    (extra >>> 16) & 255,
    (extra >>> 8) & 255,
    extra & 255,
    0x49,
    0x44,
    0x41,
    0x54,
  ];
  return new Uint8Array([...head, ...ihdr, ...idat, ...new Uint8Array(extra)]);
}

/** Prepares and uploads `bytes` under `filename` and `mimeType`; answers its file id and object key. */
async function uploadFile(
  s: TestStack,
  id: string,
  who: TestUser | TestPatient,
  file: { filename: string; mimeType: string; bytes: Uint8Array<ArrayBuffer> },
) {
  const prepared = await call(s, "POST", `/v1/consultations/${id}/files/prepare`, {
    token: who.token,
    body: { filename: file.filename, mimeType: file.mimeType, sizeBytes: file.bytes.length },
  });
  expectStatus(prepared, 201);
  const { fileId, objectKey, uploadUrl } = prepared.body.data;
  const uploaded = await storageAs(s, who.token).from(FILES_BUCKET).uploadToSignedUrl(
    objectKey,
    new URL(uploadUrl).searchParams.get("token")!,
    new Blob([file.bytes], { type: file.mimeType }),
  );
  assertEquals(uploaded.error, null);
  return { fileId: fileId as string, key: objectKey as string };
}

testBothDrivers("consultations: files are kept and served as what they are", async (t, s) => {
  const f = await fixture(s);
  const id = await openConsultation(s, f);
  const html = new TextEncoder().encode("<!doctype html><script>fetch('/x?c='+document.cookie)</script>");

  await t.step(
    "an HTML page declared as image/png: 400 FILE_003 naming fileId, its object removed",
    async () => {
      const fake = await uploadFile(s, id, f.patient, {
        filename: "foto.png",
        mimeType: "image/png",
        bytes: html,
      });
      const res = await call(s, "POST", `/v1/consultations/${id}/files/confirm`, {
        token: f.patient.token,
        body: { fileId: fake.fileId },
      });
      assertProblem(res, 400, "FILE_003");
      assertEquals(res.body.errors[0].field, "fileId");
      assertEquals(await stored(s, fake.key), undefined, "the object is gone");
      const [row] = await s.stack.deps.db.queryAsOwner<{ status: string; messages: number }>(
        `select f.status, (select count(*)::int from public.consultation_messages m where m.file_id = f.id) as messages
         from public.consultation_files f where f.id = $1`,
        [fake.fileId],
      );
      assertEquals(row, { status: "pending", messages: 0 });
      // Also plain text that is not text (control bytes), and a PDF that is an HTML page.
      for (
        const [mimeType, bytes] of [["text/plain", new Uint8Array([0x41, 0, 0x1b, 0x42])], [
          "application/pdf",
          html,
        ]] as const
      ) {
        const other = await uploadFile(s, id, f.patient, {
          filename: "x",
          mimeType,
          bytes: new Uint8Array(bytes),
        });
        assertProblem(
          await call(s, "POST", `/v1/consultations/${id}/files/confirm`, {
            token: f.patient.token,
            body: { fileId: other.fileId },
          }),
          400,
          "FILE_003",
        );
      }
    },
  );

  let pngId = "";
  await t.step("a genuine PNG, PDF and text are confirmed", async () => {
    const png = await uploadFile(s, id, f.patient, {
      filename: "foto.png",
      mimeType: "image/png",
      bytes: pngFile(70_000),
    });
    await confirm(s, id, f.patient, png.fileId);
    pngId = png.fileId;
    const pdf = await uploadFile(s, id, f.doctor, {
      filename: "receta.pdf",
      mimeType: "application/pdf",
      bytes: new TextEncoder().encode("%PDF-1.7\n1 0 obj << >> endobj\n"),
    });
    await confirm(s, id, f.doctor, pdf.fileId);
    const text = await uploadFile(s, id, f.doctor, {
      filename: "indicaciones.txt",
      mimeType: "text/plain",
      bytes: new TextEncoder().encode("Reposo y líquidos.\r\n\tDos veces al día.\n"),
    });
    await confirm(s, id, f.doctor, text.fileId);
  });

  await t.step(
    "downloads: an image opens inline; anything else is an attachment under its name",
    async () => {
      const image = await call(s, "GET", `/v1/consultations/${id}/files/${pngId}/download`, {
        token: f.doctor.token,
      });
      expectStatus(image, 200);
      assertEquals(image.headers.get("x-content-type-options"), "nosniff");
      const inline = await fetch(image.body.data.downloadUrl);
      assertEquals(inline.headers.get("content-type"), "image/png");
      assertEquals(inline.headers.get("content-disposition"), null);
      await inline.body?.cancel();

      const named = await uploadFile(s, id, f.doctor, {
        filename: "análisis de sangre.txt",
        mimeType: "text/plain",
        bytes: new TextEncoder().encode("Hemograma normal"),
      });
      await confirm(s, id, f.doctor, named.fileId);
      const res = await call(s, "GET", `/v1/consultations/${id}/files/${named.fileId}/download`, {
        token: f.patient.token,
      });
      expectStatus(res, 200);
      const attachment = await fetch(res.body.data.downloadUrl);
      const disposition = attachment.headers.get("content-disposition") ?? "";
      assertMatch(disposition, /^attachment;/);
      assert(disposition.includes("filename*=UTF-8''an%C3%A1lisis%20de%20sangre.txt"), disposition);
      assertEquals(await attachment.text(), "Hemograma normal");
    },
  );

  await t.step("a NUL or a control character in a file name is 400 naming filename", async () => {
    for (
      const filename of ["a\u0000b.txt", "informe\r\nX-Evil: 1.txt", "\u001b[31mrojo.txt", "del\u007f.txt"]
    ) {
      const res = await call(s, "POST", `/v1/consultations/${id}/files/prepare`, {
        token: f.patient.token,
        body: { filename, mimeType: "text/plain", sizeBytes: 10 },
      });
      assertProblem(res, 400, "VAL_001");
      assertEquals(res.body.errors[0].field, "filename", JSON.stringify(res.body));
    }
    const fine = await call(s, "POST", `/v1/consultations/${id}/files/prepare`, {
      token: f.patient.token,
      body: { filename: "informe médico (1).txt", mimeType: "text/plain", sizeBytes: 10 },
    });
    expectStatus(fine, 201);
    // The database holds the same rule for any other writer.
    let refused = false;
    try {
      await s.stack.deps.db.queryAsOwner(
        `insert into public.consultation_files (consultation_id, uploaded_by, filename, mime_type, size_bytes)
         values ($1, $2, e'a\\x01b.txt', 'text/plain', 10)`,
        [id, f.doctor.id],
      );
    } catch {
      refused = true;
    }
    assert(refused, "a control character in filename is refused by the database");
  });

  await t.step("a confirmed file whose object Storage lost is 404 RES_001, not 503", async () => {
    // Only an operator could lose it now: the database keeps a confirmed object from every role.
    const db = s.stack.deps.db;
    await db.queryAsOwner("alter table storage.objects disable trigger files_kept_once_confirmed");
    await db.queryAsOwner("delete from storage.objects where bucket_id = $1 and name = $2", [
      FILES_BUCKET,
      `${id}/${pngId}`,
    ]);
    await db.queryAsOwner("alter table storage.objects enable trigger files_kept_once_confirmed");
    const res = await call(s, "GET", `/v1/consultations/${id}/files/${pngId}/download`, {
      token: f.doctor.token,
    });
    assertProblem(res, 404, "RES_001");
  });
});
