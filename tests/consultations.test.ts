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
 * signed URL, confirmed and downloaded back identical, the patient's forged
 * consultation.closed and chat.message_created never reaching the doctor,
 * close with consultation.closed once, then every write refused with 409
 * CON_001), and the
 * attacks, each next to the rightful user's success: another patient (404
 * everywhere), an admin (redacted GET; 403 on token, messages and files; a
 * refused channel join), a token before start and after close, a retried
 * send, a confirm of a file never uploaded, a file over the size limit.
 */
import { VIDEO_TOKEN_TTL_SECONDS } from "../shared/modules/video/video.handlers.ts";
import type { RealtimeChannel } from "@supabase/supabase-js";
import { heard, platformClient, subscribe } from "./helpers/realtime.ts";
import { decodeJwt } from "jose";
import { verifyAccessToken } from "../shared/auth/jwt.ts";
import type { Claims } from "../shared/db/database.ts";
import { assertFieldErrors, assertProblem } from "./helpers/assertions.ts";
import { at, book, specialtyOf, type TestPatient } from "./helpers/clinic.ts";
import { consultationFixture as fixture, openConsultation, storageAs } from "./helpers/consultations.ts";
import { assert, assertEquals, assertMatch } from "./helpers/std.ts";
import { call, testBothDrivers, type TestStack, type TestUser } from "./helpers/stack.ts";
import { eventually } from "./helpers/wait.ts";

// deno-lint-ignore no-explicit-any
type Payload = any;

function expectStatus(res: { status: number; body: Payload }, status: number) {
  assertEquals(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
}

// ---------------------------------------------------------------------------
// Realtime and Storage, as a frontend uses them
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// The full visit
// ---------------------------------------------------------------------------

testBothDrivers("consultations: the full visit, with chat, a file and realtime events", async (t, s) => {
  const f = await fixture(s);
  const doctorRt = await platformClient(s, f.doctor.token);
  const patientRt = await platformClient(s, f.patient.token);
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
    let patientChannel: RealtimeChannel;
    await t.step("both join the private channel consultation:{id}", async () => {
      doctorChannel = doctorRt.channel(topic(), { config: { private: true } });
      patientChannel = patientRt.channel(topic(), { config: { private: true } });
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
      // The contract's 2 hours (video-livekit.md); a client asks again for a fresh one while in progress.
      assertEquals(d.exp - d.nbf, VIDEO_TOKEN_TTL_SECONDS, "the token lives the contract's 2 hours");
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

    await t.step(
      "since= lists from an instant on (a client catching up); a bad one is 400 naming it",
      async () => {
        const all = await call(s, "GET", `/v1/consultations/${id}/messages`, { token: f.patient.token });
        expectStatus(all, 200);
        const items: Payload[] = all.body.data.items;
        assertEquals(items.length, 3);
        const since = (instant: string) =>
          call(s, "GET", `/v1/consultations/${id}/messages?since=${encodeURIComponent(instant)}`, {
            token: f.patient.token,
          });
        // From the second message's instant: it and those after, the earlier one left out.
        const fromSecond = await since(items[1].createdAt);
        expectStatus(fromSecond, 200);
        assertEquals(fromSecond.body.data.items.map((m: Payload) => m.id), items.slice(1).map((m) => m.id));
        const future = await since(new Date(Date.now() + 3_600_000).toISOString());
        assertEquals(future.body.data.items, []);
        for (const bad of ["yesterday", "2026-01-20T10:30:00"]) {
          assertFieldErrors(await since(bad), "since");
        }
      },
    );

    await t.step("the patient cannot forge the server's events on the channel", async () => {
      const before = doctorHeard.length;
      const forgeries: Array<[string, Payload]> = [
        ["consultation.closed", { consultationId: id, closedAt: new Date().toISOString() }],
        ["chat.message_created", {
          message: {
            id: crypto.randomUUID(),
            consultationId: id,
            senderId: f.doctor.id,
            kind: "text",
            text: "x",
          },
        }],
      ];
      for (const [event, payload] of forgeries) {
        // The topic is read-only for clients: Realtime drops the broadcast, over the socket and over HTTP.
        assertEquals(await patientChannel.send({ type: "broadcast", event, payload }), "ok");
        await patientChannel.httpSend(event, payload);
      }
      await new Promise((r) => setTimeout(r, 300));
      assertEquals(doctorHeard.length, before, "a forged event reached the doctor");
      // The rightful consultation.closed arrives, exactly once: the next step.
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
      await adminClaims(s, f.admin),
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
    const admin = await platformClient(s, f.admin.token);
    const doctor = await platformClient(s, f.doctor.token);
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

/** The admin's verified claims (they carry the signing key's id to the session check). */
async function adminClaims(s: TestStack, admin: TestUser): Promise<Claims> {
  return (await verifyAccessToken(admin.token, s.stack.config.jwt))! as Claims;
}
