/**
 * Doctor-patient chat (issue #8) over real HTTP, on PGlite and on PostgreSQL.
 *
 * What is real and what is a stand-in:
 *   - the API, the database (RLS, triggers, realtime.send, full-text search)
 *     and the clients (@supabase/supabase-js for Realtime and Storage) are the
 *     real ones;
 *   - Storage and Realtime are the LOCAL STAND-IN for Supabase's
 *     (supabase/local/storage/, supabase/local/realtime/), reached through the
 *     test stack's gateway;
 *   - LiveKit is the LOCAL STAND-IN (supabase/local/livekit/, LiveKit's Twirp
 *     API through livekit-server-sdk) for room creation; its tokens are JWTs
 *     signed locally by livekit-server-sdk, decoded here to check their room;
 *   - time is injected, not slept: the stack's Deps.clock (test-only) sets the
 *     instant the chat's rules run at (chat hours, rate-limit windows).
 *
 * Covered: a conversation from start to read receipts with every event
 * arriving on the other side's channel (new_message, typing_indicator,
 * message_read, message_edited, message_deleted, file_shared,
 * video_call_started); a participant's forged new_message, video_call_started,
 * typing and presence as the doctor never reaching the doctor (the server's
 * topic is read-only, each one's signals are on their own topic); who may
 * start which conversation; search that finds
 * one's own text and never another conversation's; blocks; the 21st message
 * in a minute refused and the first after the window accepted; chat hours in
 * the clinic's time zone and the emergency exemption; file rules; the admin
 * who reads metadata and reported messages only; video call limits.
 */
import { createClient, type RealtimeChannel } from "@supabase/supabase-js";
import { heard, platformClient, subscribe } from "./helpers/realtime.ts";
import { decodeJwt } from "jose";
import { assertFieldErrors, assertMissingFields, assertProblem } from "./helpers/assertions.ts";
import { at, book, registerPatient, specialtyOf, type TestPatient } from "./helpers/clinic.ts";
import { assert, assertEquals, assertMatch } from "./helpers/std.ts";
import { call, createUser, testBothDrivers, type TestStack, type TestUser } from "./helpers/stack.ts";
import { eventually } from "./helpers/wait.ts";

// deno-lint-ignore no-explicit-any
type Payload = any;

/**
 * A clock that runs at the real pace from a chosen instant, and can jump.
 * Noon in Buenos Aires (the clinic's default time zone, UTC-3) is 15:00Z.
 */
function testClock(startIso = "2026-11-24T15:00:00Z") {
  let offset = Date.parse(startIso) - Date.now();
  return {
    now: () => new Date(Date.now() + offset),
    set(iso: string) {
      offset = Date.parse(iso) - Date.now();
    },
    advance(ms: number) {
      offset += ms;
    },
  };
}

function expectStatus(res: { status: number; body: Payload }, status: number) {
  assertEquals(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
}

interface Fixture {
  admin: TestUser;
  doctor: TestUser;
  patient: TestPatient;
  otherPatient: TestPatient;
}

/** A doctor, their patient (with an appointment) and a patient who never saw them. */
async function fixture(s: TestStack): Promise<Fixture> {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor", { name: "Diego", lastName: "Doctor" });
  const patient = await registerPatient(s, admin, "Pablo");
  const otherPatient = await registerPatient(s, admin, "Paula");
  const booked = await book(s, admin.token, {
    patientId: patient.id,
    doctorId: doctor.id,
    specialtyId: await specialtyOf(s, doctor),
    start: at(2, 10),
    end: at(2, 10, 30),
  });
  expectStatus(booked, 201);
  return { admin, doctor, patient, otherPatient };
}

async function startConversation(
  s: TestStack,
  token: string,
  participant: string,
  type = "direct",
): Promise<string> {
  const res = await call(s, "POST", "/v1/chat/conversations", {
    token,
    body: { type, participants: [participant] },
  });
  assert(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  return res.body.data.id;
}

function send(s: TestStack, token: string, conversationId: string, body: Record<string, unknown>) {
  return call(s, "POST", `/v1/chat/conversations/${conversationId}/messages`, { token, body });
}

const waitFor = (
  seen: Array<{ event: string; payload: Payload }>,
  event: string,
  match: (p: Payload) => boolean,
) => eventually(`${event} event`, () => seen.find((e) => e.event === event && match(e.payload))?.payload);

// ---------------------------------------------------------------------------
// The whole conversation, with its events
// ---------------------------------------------------------------------------

const clock1 = testClock();
testBothDrivers("chat: a conversation from start to read receipts, with every event", async (t, s) => {
  clock1.set("2026-11-24T15:00:00Z");
  const f = await fixture(s);
  const doctorRt = await platformClient(s, f.doctor.token);
  const patientRt = await platformClient(s, f.patient.token);
  try {
    let id = "";
    await t.step("the patient starts it with their doctor; starting again answers the same one", async () => {
      const res = await call(s, "POST", "/v1/chat/conversations", {
        token: f.patient.token,
        body: { type: "direct", participants: [f.doctor.id], title: "Seguimiento" },
      });
      expectStatus(res, 201);
      id = res.body.data.id;
      assertEquals(res.body.data.type, "direct");
      assertEquals(res.body.data.participants.length, 2);
      assertEquals(res.body.data.settings, { muted: false, archived: false, pinned: false });
      assertEquals(res.body.data.lastMessage, null);
      const again = await call(s, "POST", "/v1/chat/conversations", {
        token: f.doctor.token,
        body: { participants: [f.patient.id] },
      });
      expectStatus(again, 200);
      assertEquals(again.body.data.id, id);
    });

    let doctorHeard: Array<{ event: string; payload: Payload }> = [];
    let patientHeard: Array<{ event: string; payload: Payload }> = [];
    let patientChannel: RealtimeChannel;
    let doctorChannel: RealtimeChannel;
    // What the patient says (typing, presence) is on their own topic; the doctor listens there.
    let patientSays: RealtimeChannel;
    let doctorHearsPatient: RealtimeChannel;
    let fromPatient: Array<{ event: string; payload: Payload }> = [];
    await t.step("both join the private channel conversation:{id}; the admin is refused", async () => {
      doctorChannel = doctorRt.channel(`conversation:${id}`, { config: { private: true } });
      patientChannel = patientRt.channel(`conversation:${id}`, { config: { private: true } });
      const patientTopic = `conversation:${id}:user:${f.patient.id}`;
      patientSays = patientRt.channel(patientTopic, {
        config: { private: true, presence: { key: f.patient.id } },
      });
      doctorHearsPatient = doctorRt.channel(patientTopic, { config: { private: true } });
      doctorHearsPatient.on("presence", { event: "sync" }, () => {});
      doctorHeard = heard(doctorChannel);
      patientHeard = heard(patientChannel);
      fromPatient = heard(doctorHearsPatient);
      for (const channel of [doctorChannel, patientChannel, patientSays, doctorHearsPatient]) {
        assertEquals((await subscribe(channel)).status, "SUBSCRIBED");
      }
      const adminRt = await platformClient(s, f.admin.token);
      try {
        const refused = await subscribe(adminRt.channel(`conversation:${id}`, { config: { private: true } }));
        assert(refused.status !== "SUBSCRIBED", "an admin does not join a conversation's channel");
      } finally {
        await adminRt.removeAllChannels();
      }
    });

    let doctorMessageId = "";
    await t.step(
      "the doctor writes: new_message reaches the patient; a retry answers the same message",
      async () => {
        const sent = await send(s, f.doctor.token, id, {
          clientMsgId: "d-1",
          content: "¿Cómo sigue la presión?",
        });
        expectStatus(sent, 201);
        assertEquals(sent.body.data.ok, true);
        assertEquals(sent.body.data.clientMsgId, "d-1");
        const message = sent.body.data.message;
        doctorMessageId = message.id;
        assertEquals(message.content, "¿Cómo sigue la presión?");
        assertEquals(message.sender.id, f.doctor.id);
        assertEquals(message.sender.userType, "doctor");
        assertEquals(message.deliveryStatus, "sent");
        assertEquals(message.timestamp.slice(0, 13), "2026-11-24T15", "the injected clock stamps it");
        const event = await waitFor(patientHeard, "new_message", (p) => p.messageId === doctorMessageId);
        assertEquals(event.conversationId, id);
        assertEquals(event.content, "¿Cómo sigue la presión?");
        assertEquals(event.sender.fullName, "Diego Doctor");
        assertEquals(event.message.id, doctorMessageId);

        const retry = await send(s, f.doctor.token, id, {
          clientMsgId: "d-1",
          content: "¿Cómo sigue la presión?",
        });
        expectStatus(retry, 200);
        assertEquals(retry.body.data.message.id, doctorMessageId);
      },
    );

    await t.step("typing is a client broadcast the other side hears", async () => {
      await patientSays.send({
        type: "broadcast",
        event: "typing_indicator",
        payload: { userId: f.patient.id, isTyping: true },
      });
      await waitFor(fromPatient, "typing_indicator", (p) => p.userId === f.patient.id && p.isTyping === true);
    });

    await t.step("online status is presence: the doctor sees the patient online", async () => {
      const tracked = await patientSays.track({ userId: f.patient.id, status: "online" });
      assertEquals(tracked, "ok");
      await eventually(
        "the patient's presence",
        () => Object.keys(doctorHearsPatient.presenceState()).includes(f.patient.id),
      );
    });

    await t.step("the patient cannot forge server events, nor typing or presence as the doctor", async () => {
      const doctorTopic = `conversation:${id}:user:${f.doctor.id}`;
      const asDoctor = patientRt.channel(doctorTopic, {
        config: { private: true, presence: { key: f.doctor.id } },
      });
      assertEquals((await subscribe(asDoctor)).status, "SUBSCRIBED"); // a participant reads it, never writes
      const doctorSees = doctorRt.channel(doctorTopic, { config: { private: true } });
      const onDoctorTopic = heard(doctorSees);
      let forgedPresence = false;
      doctorSees.on("presence", { event: "join" }, () => forgedPresence = true);
      assertEquals((await subscribe(doctorSees)).status, "SUBSCRIBED");
      const before = doctorHeard.length;
      const forgeries: Array<[string, Payload]> = [
        ["new_message", { conversationId: id, messageId: crypto.randomUUID(), sender: { id: f.doctor.id } }],
        ["video_call_started", {
          conversationId: id,
          callId: crypto.randomUUID(),
          initiator: f.doctor.id,
          roomName: "a-room-of-the-patients-own",
        }],
      ];
      for (const [event, payload] of forgeries) {
        assertEquals(await patientChannel.send({ type: "broadcast", event, payload }), "ok");
        await patientChannel.httpSend(event, payload);
      }
      await asDoctor.send({ type: "broadcast", event: "typing_indicator", payload: { userId: f.doctor.id } });
      assertEquals(await asDoctor.track({ userId: f.doctor.id }), "error");
      // The patient's own typing still arrives, after the forgeries.
      await patientSays.send({ type: "broadcast", event: "typing_indicator", payload: { n: "after" } });
      await waitFor(fromPatient, "typing_indicator", (p) => p.n === "after");
      await new Promise((r) => setTimeout(r, 200));
      assertEquals(doctorHeard.length, before, "a forged server event reached the doctor");
      assertEquals(onDoctorTopic.length, 0, "a forged typing signal reached the doctor");
      assert(!forgedPresence, "a forged presence reached the doctor");
      await patientRt.removeChannel(asDoctor);
      await doctorRt.removeChannel(doctorSees);
    });

    let patientMessageId = "";
    await t.step("the patient replies to it; the doctor has one unread message", async () => {
      const sent = await send(s, f.patient.token, id, {
        clientMsgId: "p-1",
        content: "Mejor, doctor. La medicación funciona.",
        replyToId: doctorMessageId,
      });
      expectStatus(sent, 201);
      patientMessageId = sent.body.data.message.id;
      assertEquals(sent.body.data.message.replyTo.messageId, doctorMessageId);
      assertEquals(sent.body.data.message.replyTo.contentPreview, "¿Cómo sigue la presión?");
      await waitFor(doctorHeard, "new_message", (p) => p.messageId === patientMessageId);

      const unread = await call(s, "GET", "/v1/chat/unread-count", { token: f.doctor.token });
      expectStatus(unread, 200);
      assertEquals(unread.body.data, { total: 1, conversations: [{ conversationId: id, unreadCount: 1 }] });
      const list = await call(s, "GET", "/v1/chat/conversations?unread=true", { token: f.doctor.token });
      expectStatus(list, 200);
      assertEquals(list.body.data.map((c: Payload) => c.id), [id]);
      assertEquals(list.body.data[0].unreadCount, 1);
      assertEquals(list.body.data[0].lastMessage.content, "Mejor, doctor. La medicación funciona.");
      assertEquals(list.body.data[0].lastMessage.isRead, false);
    });

    await t.step("the doctor reads it: message_read reaches the patient, with the receipt", async () => {
      const read = await call(s, "POST", `/v1/chat/messages/${patientMessageId}/read`, {
        token: f.doctor.token,
      });
      expectStatus(read, 200);
      assertEquals(read.body.data.messageId, patientMessageId);
      assertEquals(read.body.data.readBy, f.doctor.id);
      const event = await waitFor(patientHeard, "message_read", (p) => p.messageId === patientMessageId);
      assertEquals(event.readBy, f.doctor.id);
      assertEquals(event.conversationId, id);
      const message = await call(s, "GET", `/v1/chat/messages/${patientMessageId}`, {
        token: f.patient.token,
      });
      assertEquals(message.body.data.deliveryStatus, "read");
      assertEquals(message.body.data.readBy.map((r: Payload) => r.userId), [f.doctor.id]);
      const unread = await call(s, "GET", "/v1/chat/unread-count", { token: f.doctor.token });
      assertEquals(unread.body.data.total, 0);
      const own = await call(s, "POST", `/v1/chat/messages/${doctorMessageId}/read`, {
        token: f.doctor.token,
      });
      assertProblem(own, 403, "AUTH_002");
    });

    await t.step(
      "the patient edits their message: the doctor hears message_edited and sees the history",
      async () => {
        const stranger = await call(s, "PUT", `/v1/chat/messages/${patientMessageId}`, {
          token: f.doctor.token,
          body: { content: "Texto ajeno" },
        });
        assertProblem(stranger, 403, "AUTH_002");
        const edited = await call(s, "PUT", `/v1/chat/messages/${patientMessageId}`, {
          token: f.patient.token,
          body: { content: "Mejor, doctor. La medicación nueva funciona." },
        });
        expectStatus(edited, 200);
        assertEquals(edited.body.data.isEdited, true);
        const event = await waitFor(doctorHeard, "message_edited", (p) => p.messageId === patientMessageId);
        assertEquals(event.content, "Mejor, doctor. La medicación nueva funciona.");
        const seen = await call(s, "GET", `/v1/chat/messages/${patientMessageId}`, { token: f.doctor.token });
        assertEquals(seen.body.data.content, "Mejor, doctor. La medicación nueva funciona.");
        assertEquals(seen.body.data.isEdited, true);
        assertEquals(seen.body.data.editHistory.map((v: Payload) => v.content), [
          "Mejor, doctor. La medicación funciona.",
        ]);
      },
    );

    await t.step(
      "a file: declared, uploaded to its signed URL, shared in a message (file_shared), downloaded",
      async () => {
        const bytes = new TextEncoder().encode("%PDF-1.4 receta");
        const prepared = await call(s, "POST", "/v1/chat/upload-file", {
          token: f.doctor.token,
          body: {
            conversationId: id,
            filename: "receta.pdf",
            mimeType: "application/pdf",
            sizeBytes: bytes.length,
          },
        });
        expectStatus(prepared, 201);
        const { fileId, uploadUrl, objectKey } = prepared.body.data;
        assertEquals(objectKey, `${id}/${fileId}`);
        const storage = createClient(s.origin, s.stack.anonKey, {
          accessToken: () => Promise.resolve(f.doctor.token),
        }).storage;
        const uploaded = await storage.from("chat-files").uploadToSignedUrl(
          objectKey,
          new URL(uploadUrl).searchParams.get("token")!,
          new Blob([bytes], { type: "application/pdf" }),
        );
        assertEquals(uploaded.error, null);
        const sent = await send(s, f.doctor.token, id, { content: "Su receta", attachments: [fileId] });
        expectStatus(sent, 201);
        assertEquals(sent.body.data.message.messageType, "file");
        assertEquals(sent.body.data.message.attachments[0].filename, "receta.pdf");
        const shared = await waitFor(patientHeard, "file_shared", (p) => p.fileId === fileId);
        assertEquals(shared.filename, "receta.pdf");
        assertEquals(shared.uploader.id, f.doctor.id);
        const created = await waitFor(
          patientHeard,
          "new_message",
          (p) => p.messageId === sent.body.data.message.id,
        );
        assertEquals(created.attachments.length, 1);

        const download = await call(s, "GET", `/v1/chat/files/${fileId}/download`, {
          token: f.patient.token,
        });
        expectStatus(download, 200);
        const res = await fetch(download.body.data.downloadUrl);
        assertEquals(new Uint8Array(await res.arrayBuffer()), bytes);
        const stranger = await call(s, "GET", `/v1/chat/files/${fileId}/download`, {
          token: f.otherPatient.token,
        });
        assertProblem(stranger, 404, "RES_001");
      },
    );

    await t.step(
      "the patient deletes their message: a tombstone for everyone (message_deleted)",
      async () => {
        const stranger = await call(s, "DELETE", `/v1/chat/messages/${patientMessageId}`, {
          token: f.doctor.token,
        });
        assertProblem(stranger, 403, "AUTH_002");
        const deleted = await call(s, "DELETE", `/v1/chat/messages/${patientMessageId}`, {
          token: f.patient.token,
        });
        assertEquals(deleted.status, 204);
        await waitFor(doctorHeard, "message_deleted", (p) => p.messageId === patientMessageId);
        const seen = await call(s, "GET", `/v1/chat/messages/${patientMessageId}`, { token: f.doctor.token });
        expectStatus(seen, 200);
        assertEquals(seen.body.data.isDeleted, true);
        assertEquals(seen.body.data.content, null);
        assertEquals(seen.body.data.editHistory, []);
        const list = await call(s, "GET", `/v1/chat/conversations/${id}/messages`, { token: f.doctor.token });
        expectStatus(list, 200);
        const tombstone = list.body.data.items.find((m: Payload) => m.id === patientMessageId);
        assertEquals(tombstone.content, null);
        const again = await call(s, "PUT", `/v1/chat/messages/${patientMessageId}`, {
          token: f.patient.token,
          body: { content: "de nuevo" },
        });
        assertProblem(again, 409, "CHAT_004");
        const [kept] = await s.stack.deps.db.queryAsOwner<{ n: number }>(
          "select count(*)::int as n from public.chat_messages where id = $1",
          [patientMessageId],
        );
        assertEquals(kept.n, 1, "messages are never hard-deleted");
      },
    );

    await t.step("messages page newest first by cursor", async () => {
      const first = await call(s, "GET", `/v1/chat/conversations/${id}/messages?limit=2`, {
        token: f.patient.token,
      });
      expectStatus(first, 200);
      assertEquals(first.body.data.items.length, 2);
      assert(first.body.data.pageInfo.nextCursor);
      const second = await call(
        s,
        "GET",
        `/v1/chat/conversations/${id}/messages?limit=2&cursor=${first.body.data.pageInfo.nextCursor}`,
        { token: f.patient.token },
      );
      assertEquals(second.body.data.items.map((m: Payload) => m.id), [doctorMessageId]);
      assertEquals(second.body.data.pageInfo.nextCursor, null);
      const bad = await call(s, "GET", `/v1/chat/conversations/${id}/messages?cursor=nope`, {
        token: f.patient.token,
      });
      assertFieldErrors(bad, "cursor");
    });

    await t.step("a video call from the chat: video_call_started, tokens for its room, end", async () => {
      const started = await call(s, "POST", "/v1/chat/video-call/start", {
        token: f.doctor.token,
        body: { conversationId: id },
      });
      expectStatus(started, 201);
      const { callId, roomName } = started.body.data;
      assertEquals(roomName, `chat-call-${callId}`);
      assertEquals(
        s.stack.livekit!.calls.get("livekit.RoomService/CreateRoom"),
        1,
        "its LiveKit room is created",
      );
      assertEquals(decodeJwt<Payload>(started.body.data.accessToken).video.room, roomName);
      const event = await waitFor(patientHeard, "video_call_started", (p) => p.callId === callId);
      assertEquals(event.initiator.id, f.doctor.id);
      const joined = await call(s, "POST", "/v1/chat/video-call/join", {
        token: f.patient.token,
        body: { callId },
      });
      expectStatus(joined, 200);
      const token = decodeJwt<Payload>(joined.body.data.accessToken);
      assertEquals(token.sub, f.patient.id);
      assertEquals(token.video.room, roomName);
      const stranger = await call(s, "POST", "/v1/chat/video-call/join", {
        token: f.otherPatient.token,
        body: { callId },
      });
      assertProblem(stranger, 404, "RES_001");
      const twice = await call(s, "POST", "/v1/chat/video-call/start", {
        token: f.patient.token,
        body: { conversationId: id },
      });
      assertProblem(twice, 409, "RES_002");
      const ended = await call(s, "POST", "/v1/chat/video-call/end", {
        token: f.patient.token,
        body: { callId },
      });
      expectStatus(ended, 200);
      assertEquals(ended.body.data.status, "ended");
      await waitFor(doctorHeard, "video_call_ended", (p) => p.callId === callId);
    });

    await t.step("settings are one's own: mute, archive, pin; archived leaves the default list", async () => {
      const res = await call(s, "PUT", `/v1/chat/conversations/${id}`, {
        token: f.patient.token,
        body: { muted: true, archived: true, pinned: true },
      });
      expectStatus(res, 200);
      assertEquals(res.body.data.settings, { muted: true, archived: true, pinned: true });
      const doctors = await call(s, "GET", `/v1/chat/conversations/${id}`, { token: f.doctor.token });
      assertEquals(doctors.body.data.settings, { muted: false, archived: false, pinned: false });
      const active = await call(s, "GET", "/v1/chat/conversations", { token: f.patient.token });
      assertEquals(active.body.data.length, 0);
      const archived = await call(s, "GET", "/v1/chat/conversations?archived=true", {
        token: f.patient.token,
      });
      assertEquals(archived.body.data.map((c: Payload) => c.id), [id]);
      const bad = await call(s, "PUT", `/v1/chat/conversations/${id}`, { token: f.patient.token, body: {} });
      assertProblem(bad, 400, "VAL_001");
    });

    await t.step("the logs hold no message text, file name or search term", async () => {
      await call(s, "GET", "/v1/chat/search?query=presi%C3%B3n", { token: f.doctor.token });
      for (const secret of ["presión", "presi%C3%B3n", "medicación", "receta.pdf", "Su receta"]) {
        assert(!s.logs.some((line) => line.includes(secret)), `"${secret}" in the logs`);
      }
    });

    await t.step(
      "leaving is for oneself: the patient no longer reads it, the doctor still does",
      async () => {
        const left = await call(s, "DELETE", `/v1/chat/conversations/${id}`, { token: f.patient.token });
        assertEquals(left.status, 204);
        const gone = await call(s, "GET", `/v1/chat/conversations/${id}`, { token: f.patient.token });
        assertProblem(gone, 404, "RES_001");
        const messages = await call(s, "GET", `/v1/chat/conversations/${id}/messages`, {
          token: f.patient.token,
        });
        assertProblem(messages, 404, "RES_001");
        const doctors = await call(s, "GET", `/v1/chat/conversations/${id}`, { token: f.doctor.token });
        expectStatus(doctors, 200);
        assertEquals(
          doctors.body.data.participants.find((p: Payload) => p.userId === f.patient.id).status,
          "left",
        );
      },
    );
  } finally {
    await doctorRt.removeAllChannels();
    await patientRt.removeAllChannels();
  }
}, { clock: () => clock1.now() });

// ---------------------------------------------------------------------------
// Who may start which conversation
// ---------------------------------------------------------------------------

const clock2 = testClock();
testBothDrivers(
  "chat: a patient only with a doctor who treats them; groups are for doctors",
  async (t, s) => {
    clock2.set("2026-11-24T15:00:00Z");
    const f = await fixture(s);
    const colleague = await createUser(s, "doctor");

    await t.step(
      "a patient with a doctor who never saw them: 403 CHAT_001; with their doctor: 201",
      async () => {
        const refused = await call(s, "POST", "/v1/chat/conversations", {
          token: f.otherPatient.token,
          body: { participants: [f.doctor.id] },
        });
        assertProblem(refused, 403, "CHAT_001");
        const allowed = await call(s, "POST", "/v1/chat/conversations", {
          token: f.patient.token,
          body: { participants: [f.doctor.id] },
        });
        expectStatus(allowed, 201);
      },
    );

    await t.step("a doctor with someone else's patient: 403 CHAT_001", async () => {
      const refused = await call(s, "POST", "/v1/chat/conversations", {
        token: colleague.token,
        body: { participants: [f.patient.id] },
      });
      assertProblem(refused, 403, "CHAT_001");
    });

    await t.step("a group: doctors only", async () => {
      const withPatient = await call(s, "POST", "/v1/chat/conversations", {
        token: f.doctor.token,
        body: { type: "group", title: "Equipo", participants: [colleague.id, f.patient.id] },
      });
      assertProblem(withPatient, 403, "CHAT_001");
      const team = await call(s, "POST", "/v1/chat/conversations", {
        token: f.doctor.token,
        body: { type: "group", title: "Equipo de guardia", participants: [colleague.id] },
      });
      expectStatus(team, 201);
      assertEquals(team.body.data.type, "group");
      assertEquals(team.body.data.participants.length, 2);
    });

    await t.step(
      "a consultation conversation belongs to the live consultation's doctor and patient",
      async () => {
        const [appointment] = await s.stack.deps.db.queryAsOwner<{ id: string }>(
          "select id from public.appointments where doctor_id = $1 and patient_id = $2",
          [f.doctor.id, f.patient.id],
        );
        const confirmed = await call(s, "PATCH", `/v1/appointments/${appointment.id}`, {
          token: f.doctor.token,
          body: { status: "CONFIRMED" },
        });
        expectStatus(confirmed, 200);
        const opened = await call(s, "POST", "/v1/consultations", {
          token: f.doctor.token,
          body: { appointmentId: appointment.id },
        });
        expectStatus(opened, 201);
        const consultationId = opened.body.data.id;
        const missing = await call(s, "POST", "/v1/chat/conversations", {
          token: f.doctor.token,
          body: { type: "consultation", participants: [f.patient.id] },
        });
        assertFieldErrors(missing, "consultationId");
        const stranger = await call(s, "POST", "/v1/chat/conversations", {
          token: colleague.token,
          body: { type: "consultation", participants: [f.patient.id], consultationId },
        });
        assertProblem(stranger, 403, "CHAT_001");
        const res = await call(s, "POST", "/v1/chat/conversations", {
          token: f.doctor.token,
          body: { type: "consultation", participants: [f.patient.id], consultationId },
        });
        expectStatus(res, 201);
        assertEquals(res.body.data.consultationId, consultationId);
      },
    );

    await t.step("an admin takes part in no conversation: 403", async () => {
      const res = await call(s, "POST", "/v1/chat/conversations", {
        token: f.admin.token,
        body: { participants: [f.patient.id] },
      });
      assertProblem(res, 403, "AUTH_002");
    });

    await t.step("bad input names the field; someone unknown is 404", async () => {
      const bad = await call(s, "POST", "/v1/chat/conversations", {
        token: f.patient.token,
        body: { type: "party", participants: ["nope"] },
      });
      assertFieldErrors(bad, "type", "participants[0]");
      const unknown = await call(s, "POST", "/v1/chat/conversations", {
        token: f.patient.token,
        body: { participants: [crypto.randomUUID()] },
      });
      assertProblem(unknown, 404, "RES_001");
      const tooLong = await call(s, "POST", `/v1/chat/conversations/${crypto.randomUUID()}/messages`, {
        token: f.patient.token,
        body: { content: "x".repeat(5001) },
      });
      assertFieldErrors(tooLong, "content");
    });
  },
  { clock: () => clock2.now() },
);

// ---------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------

const clock3 = testClock();
testBothDrivers("chat: search finds one's own text, never another conversation's", async (t, s) => {
  clock3.set("2026-11-24T15:00:00Z");
  const f = await fixture(s);
  const booked = await book(s, f.admin.token, {
    patientId: f.otherPatient.id,
    doctorId: f.doctor.id,
    specialtyId: await specialtyOf(s, f.doctor),
    start: at(3, 10),
    end: at(3, 10, 30),
  });
  expectStatus(booked, 201);
  const mine = await startConversation(s, f.patient.token, f.doctor.id);
  const titled = await call(s, "POST", "/v1/chat/conversations", {
    token: f.otherPatient.token,
    body: { participants: [f.doctor.id], title: "Dolor de espalda crónico" },
  });
  expectStatus(titled, 201);
  const theirs = titled.body.data.id;
  expectStatus(
    await send(s, f.patient.token, mine, { content: "Tengo dolores de cabeza por la mañana" }),
    201,
  );
  expectStatus(
    await send(s, f.otherPatient.token, theirs, { content: "Me duele la cabeza y la espalda" }),
    201,
  );

  await t.step("a patient finds their own text, stemmed (Spanish), with highlights", async () => {
    const res = await call(s, "GET", "/v1/chat/search?query=dolor%20cabeza", { token: f.patient.token });
    expectStatus(res, 200);
    assertEquals(res.body.data.length, 1);
    assertEquals(res.body.data[0].conversationId, mine);
    assertMatch(res.body.data[0].highlight, /<mark>dolores<\/mark> de <mark>cabeza<\/mark>/);
  });

  await t.step("never another conversation's text, even asked for by id", async () => {
    const res = await call(s, "GET", "/v1/chat/search?query=espalda", { token: f.patient.token });
    expectStatus(res, 200);
    assertEquals(res.body.data, []);
    const byId = await call(s, "GET", `/v1/chat/search?query=cabeza&conversationId=${theirs}`, {
      token: f.patient.token,
    });
    assertEquals(byId.body.data, []);
    const admin = await call(s, "GET", "/v1/chat/search?query=cabeza", { token: f.admin.token });
    assertEquals(admin.body.data, []);
  });

  await t.step("conversations are found by their title, by their participants only", async () => {
    const own = await call(s, "GET", "/v1/chat/search?query=cr%C3%B3nico", { token: f.otherPatient.token });
    expectStatus(own, 200);
    assertEquals(own.body.data.map((h: Payload) => [h.type, h.conversationId]), [["conversation", theirs]]);
    assertMatch(own.body.data[0].highlight, /<mark>crónico<\/mark>/);
    const other = await call(s, "GET", "/v1/chat/search?query=cr%C3%B3nico", { token: f.patient.token });
    assertEquals(other.body.data, []);
  });

  await t.step("the doctor finds both, one page at a time", async () => {
    const first = await call(s, "GET", "/v1/chat/search?query=cabeza&limit=1", { token: f.doctor.token });
    expectStatus(first, 200);
    assertEquals(first.body.data.length, 1);
    const second = await call(
      s,
      "GET",
      `/v1/chat/search?query=cabeza&limit=1&cursor=${first.body.pageInfo.nextCursor}`,
      { token: f.doctor.token },
    );
    assertEquals(second.body.data.length, 1);
    assertEquals(
      new Set([first.body.data[0].conversationId, second.body.data[0].conversationId]),
      new Set([mine, theirs]),
    );
  });

  await t.step("an empty query names the field", async () => {
    assertFieldErrors(await call(s, "GET", "/v1/chat/search?query=", { token: f.patient.token }), "query");
  });
}, { clock: () => clock3.now() });

// ---------------------------------------------------------------------------
// Blocks
// ---------------------------------------------------------------------------

const clock4 = testClock();
testBothDrivers("chat: a blocked user can neither message nor start a conversation", async (t, s) => {
  clock4.set("2026-11-24T15:00:00Z");
  const f = await fixture(s);
  const id = await startConversation(s, f.patient.token, f.doctor.id);

  await t.step(
    "the patient blocks the doctor: the doctor's messages are refused (403 CHAT_003)",
    async () => {
      const blocked = await call(s, "POST", "/v1/chat/block-user", {
        token: f.patient.token,
        body: { userId: f.doctor.id },
      });
      expectStatus(blocked, 201);
      assertEquals(blocked.body.data.blockedUserId, f.doctor.id);
      const again = await call(s, "POST", "/v1/chat/block-user", {
        token: f.patient.token,
        body: { userId: f.doctor.id },
      });
      expectStatus(again, 200);
      assertProblem(await send(s, f.doctor.token, id, { content: "Hola" }), 403, "CHAT_003");
      const start = await call(s, "POST", "/v1/chat/conversations", {
        token: f.doctor.token,
        body: { type: "emergency", participants: [f.patient.id] },
      });
      assertProblem(start, 403, "CHAT_003");
    },
  );

  await t.step("nobody blocks an admin, nor themselves", async () => {
    const admin = await call(s, "POST", "/v1/chat/block-user", {
      token: f.patient.token,
      body: { userId: f.admin.id },
    });
    assertProblem(admin, 403, "AUTH_002");
    const self = await call(s, "POST", "/v1/chat/block-user", {
      token: f.patient.token,
      body: { userId: f.patient.id },
    });
    assertFieldErrors(self, "userId");
    assertMissingFields(
      await call(s, "POST", "/v1/chat/block-user", { token: f.patient.token, body: {} }),
      "userId",
    );
  });

  await t.step("unblocked, the doctor writes again", async () => {
    const unblocked = await call(s, "DELETE", `/v1/chat/block-user/${f.doctor.id}`, {
      token: f.patient.token,
    });
    assertEquals(unblocked.status, 204);
    expectStatus(await send(s, f.doctor.token, id, { content: "Hola" }), 201);
  });
}, { clock: () => clock4.now() });

// ---------------------------------------------------------------------------
// Rate limit and chat hours (time injected)
// ---------------------------------------------------------------------------

const clock5 = testClock();
testBothDrivers("chat: 20 messages a minute, and chat hours in the clinic's time zone", async (t, s) => {
  clock5.set("2026-11-24T15:00:00Z");
  const f = await fixture(s);
  const id = await startConversation(s, f.patient.token, f.doctor.id);

  await t.step(
    "the 21st message in a minute is 429 RATE_001 with Retry-After; after the window, accepted",
    async () => {
      for (let i = 1; i <= 20; i++) {
        expectStatus(await send(s, f.patient.token, id, { content: `Mensaje ${i}` }), 201);
      }
      const refused = await send(s, f.patient.token, id, { content: "Mensaje 21" });
      assertProblem(refused, 429, "RATE_001");
      const retryAfter = Number(refused.headers.get("retry-after"));
      assert(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      expectStatus(await send(s, f.doctor.token, id, { content: "El médico no comparte el límite" }), 201);
      clock5.advance(61_000);
      expectStatus(await send(s, f.patient.token, id, { content: "Mensaje 21, un minuto después" }), 201);
    },
  );

  await t.step(
    "at 23:00 clinic time a message is 400 CHAT_002; in an emergency conversation, accepted",
    async () => {
      clock5.set("2026-11-25T02:00:00Z"); // 23:00 in Buenos Aires
      assertProblem(await send(s, f.patient.token, id, { content: "¿Está despierto?" }), 400, "CHAT_002");
      const emergency = await startConversation(s, f.patient.token, f.doctor.id, "emergency");
      expectStatus(await send(s, f.patient.token, emergency, { content: "Tengo dolor de pecho" }), 201);
      const call1 = await call(s, "POST", "/v1/chat/video-call/start", {
        token: f.patient.token,
        body: { conversationId: id },
      });
      assertProblem(call1, 400, "CHAT_002");
    },
  );

  await t.step("the clinic's time zone decides: the same instant in Tokyo is 11:00", async () => {
    await s.stack.deps.db.queryAsOwner("update public.clinic_settings set time_zone = 'Asia/Tokyo'");
    expectStatus(await send(s, f.patient.token, id, { content: "Buen día" }), 201);
  });
}, { clock: () => clock5.now() });

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

const clock6 = testClock();
testBothDrivers("chat: files are whitelisted, at most 10 MB, into one's own conversations", async (t, s) => {
  clock6.set("2026-11-24T15:00:00Z");
  const f = await fixture(s);
  const id = await startConversation(s, f.patient.token, f.doctor.id);
  const prepare = (token: string, body: Record<string, unknown>) =>
    call(s, "POST", "/v1/chat/upload-file", { token, body: { conversationId: id, ...body } });

  await t.step("over 10 MB: 413 FILE_001 naming sizeBytes", async () => {
    const res = await prepare(f.patient.token, {
      filename: "estudio.pdf",
      mimeType: "application/pdf",
      sizeBytes: 10 * 1024 * 1024 + 1,
    });
    assertProblem(res, 413, "FILE_001");
    assertEquals(res.body.errors[0].field, "sizeBytes");
  });

  await t.step("a type outside pdf, jpg, png, doc, docx, mp3, mp4: 400 FILE_003", async () => {
    const exe = await prepare(f.patient.token, {
      filename: "setup.exe",
      mimeType: "application/x-msdownload",
      sizeBytes: 100,
    });
    assertProblem(exe, 400, "FILE_003");
    const disguised = await prepare(f.patient.token, {
      filename: "setup.exe",
      mimeType: "image/png",
      sizeBytes: 100,
    });
    assertProblem(disguised, 400, "FILE_003");
  });

  await t.step("a patient shares only into their own conversations", async () => {
    const stranger = await prepare(f.otherPatient.token, {
      filename: "foto.jpg",
      mimeType: "image/jpeg",
      sizeBytes: 100,
    });
    assertProblem(stranger, 404, "RES_001");
    const own = await prepare(f.patient.token, {
      filename: "foto.jpg",
      mimeType: "image/jpeg",
      sizeBytes: 100,
    });
    expectStatus(own, 201);
  });

  await t.step("a file never uploaded is refused in a message (409 FILE_002)", async () => {
    const own = await prepare(f.patient.token, {
      filename: "nota.docx",
      mimeType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
      sizeBytes: 10,
    });
    expectStatus(own, 201);
    const res = await send(s, f.patient.token, id, { attachments: [own.body.data.fileId] });
    assertProblem(res, 409, "FILE_002");
  });

  await t.step("10 files an hour: the 11th is 429 RATE_001", async () => {
    for (let i = 0; i < 8; i++) {
      expectStatus(
        await prepare(f.patient.token, { filename: `f${i}.png`, mimeType: "image/png", sizeBytes: 10 }),
        201,
      );
    }
    const refused = await prepare(f.patient.token, {
      filename: "once.png",
      mimeType: "image/png",
      sizeBytes: 10,
    });
    assertProblem(refused, 429, "RATE_001");
    assert(Number(refused.headers.get("retry-after")) > 60);
  });
}, { clock: () => clock6.now() });

const clockFiles = testClock();
testBothDrivers("chat: a file is shared and served only as what it is", async (t, s) => {
  clockFiles.set("2026-11-24T15:00:00Z");
  const f = await fixture(s);
  const id = await startConversation(s, f.patient.token, f.doctor.id);
  const files = createClient(s.origin, s.stack.anonKey, {
    accessToken: () => Promise.resolve(f.patient.token),
  }).storage.from("chat-files");
  const service = createClient(s.origin, s.stack.serviceRoleKey).storage.from("chat-files");
  const upload = async (filename: string, mimeType: string, bytes: Uint8Array<ArrayBuffer>) => {
    const prepared = await call(s, "POST", "/v1/chat/upload-file", {
      token: f.patient.token,
      body: { conversationId: id, filename, mimeType, sizeBytes: bytes.length },
    });
    expectStatus(prepared, 201);
    const { fileId, uploadUrl, objectKey } = prepared.body.data;
    const uploaded = await files.uploadToSignedUrl(
      objectKey,
      new URL(uploadUrl).searchParams.get("token")!,
      new Blob([bytes], { type: mimeType }),
    );
    assertEquals(uploaded.error, null);
    return { fileId: fileId as string, key: objectKey as string };
  };
  const html = new TextEncoder().encode("<!doctype html><script>fetch('/x?c='+document.cookie)</script>");
  // An MP3 frame header (MPEG-1 layer III, 128 kbit/s) and silence.
  const mp3 = new Uint8Array([0xff, 0xfb, 0x90, 0x64, ...new Uint8Array(413)]);

  await t.step("an HTML page declared as image/png: 400 FILE_003 naming attachments.0, removed", async () => {
    const fake = await upload("foto.png", "image/png", html);
    const res = await send(s, f.patient.token, id, { content: "Mire", attachments: [fake.fileId] });
    assertProblem(res, 400, "FILE_003");
    assertEquals(res.body.errors[0].field, "attachments.0");
    assertEquals(await s.stack.deps.storage.objectInfo("chat-files", fake.key), undefined);
    const [row] = await s.stack.deps.db.queryAsOwner<{ status: string; messages: number }>(
      `select f.status, (select count(*)::int from public.chat_messages m where m.conversation_id = f.conversation_id)
         as messages from public.chat_files f where f.id = $1`,
      [fake.fileId],
    );
    assertEquals(row, { status: "pending", messages: 0 }, "nothing half-done: no message, the file pending");
  });

  let mp3Id = "";
  await t.step("a genuine MP3 is shared, and downloads as an attachment under its own name", async () => {
    const real = await upload("consulta día 1.mp3", "audio/mpeg", mp3);
    expectStatus(await send(s, f.patient.token, id, { content: "Audio", attachments: [real.fileId] }), 201);
    mp3Id = real.fileId;
    const res = await call(s, "GET", `/v1/chat/files/${real.fileId}/download`, { token: f.doctor.token });
    expectStatus(res, 200);
    assertEquals(res.headers.get("x-content-type-options"), "nosniff");
    const file = await fetch(res.body.data.downloadUrl);
    const disposition = file.headers.get("content-disposition") ?? "";
    assertMatch(disposition, /^attachment;/);
    assert(disposition.includes("filename*=UTF-8''consulta%20d%C3%ADa%201.mp3"), disposition);
    assertEquals(new Uint8Array(await file.arrayBuffer()), mp3);
  });

  await t.step("a shared file stays: nobody deletes it, not even the service role", async () => {
    const key = `${id}/${mp3Id}`;
    assertEquals((await files.remove([key])).data, []);
    assert((await service.remove([key])).error, "the service role's delete is refused");
    assert(await s.stack.deps.storage.objectInfo("chat-files", key));
    // Nor is anything stored where no upload-file made a slot.
    const stray = await service.upload(
      `${id}/${crypto.randomUUID()}`,
      new Blob([mp3], { type: "audio/mpeg" }),
    );
    assertEquals((stray.error as { statusCode?: string } | null)?.statusCode, "403");
  });

  await t.step("a NUL or a control character in a file name is 400 naming filename", async () => {
    for (const filename of ["a\u0000b.pdf", "receta\r\n.pdf", "\u001b[0m.pdf"]) {
      const res = await call(s, "POST", "/v1/chat/upload-file", {
        token: f.patient.token,
        body: { conversationId: id, filename, mimeType: "application/pdf", sizeBytes: 10 },
      });
      assertProblem(res, 400, "VAL_001");
      assertEquals(res.body.errors[0].field, "filename");
    }
  });

  await t.step("a shared file whose object Storage lost is 404 RES_001, not 503", async () => {
    const db = s.stack.deps.db;
    await db.queryAsOwner("alter table storage.objects disable trigger files_kept_once_confirmed");
    await db.queryAsOwner("delete from storage.objects where bucket_id = 'chat-files' and name = $1", [
      `${id}/${mp3Id}`,
    ]);
    await db.queryAsOwner("alter table storage.objects enable trigger files_kept_once_confirmed");
    const res = await call(s, "GET", `/v1/chat/files/${mp3Id}/download`, { token: f.doctor.token });
    assertProblem(res, 404, "RES_001");
  });

  await t.step(
    "an upload URL signed before its uploader left the conversation uploads nothing after",
    async () => {
      const bytes = new TextEncoder().encode("%PDF-1.4 después");
      const prepare = () =>
        call(s, "POST", "/v1/chat/upload-file", {
          token: f.patient.token,
          body: {
            conversationId: id,
            filename: "tarde.pdf",
            mimeType: "application/pdf",
            sizeBytes: bytes.length,
          },
        });
      const [before, stays] = [await prepare(), await prepare()];
      expectStatus(before, 201);
      const put = (prepared: Payload) =>
        files.uploadToSignedUrl(
          prepared.body.data.objectKey,
          new URL(prepared.body.data.uploadUrl).searchParams.get("token")!,
          new Blob([bytes], { type: "application/pdf" }),
        );
      assertEquals((await put(stays)).error, null, "while a participant, the URL uploads");
      assertEquals(
        (await call(s, "DELETE", `/v1/chat/conversations/${id}`, { token: f.patient.token })).status,
        204,
      );
      assertEquals((await put(before)).error?.statusCode ?? null, "403");
      assertEquals(
        await s.stack.deps.storage.objectInfo("chat-files", before.body.data.objectKey),
        undefined,
      );
    },
  );
}, { clock: () => clockFiles.now() });

// ---------------------------------------------------------------------------
// The admin: metadata and reported messages, never other texts
// ---------------------------------------------------------------------------

const clock7 = testClock();
testBothDrivers("chat: an admin reads metadata and reported messages only", async (t, s) => {
  clock7.set("2026-11-24T15:00:00Z");
  const f = await fixture(s);
  const id = await startConversation(s, f.patient.token, f.doctor.id);
  const quiet = await send(s, f.doctor.token, id, { content: "Sus análisis están bien" });
  const rude = await send(s, f.doctor.token, id, { content: "Mensaje ofensivo de prueba" });
  expectStatus(quiet, 201);
  expectStatus(rude, 201);

  await t.step("the admin sees the conversation's metadata, without title, text or settings", async () => {
    const res = await call(s, "GET", `/v1/chat/conversations/${id}`, { token: f.admin.token });
    expectStatus(res, 200);
    assertEquals(res.body.data.id, id);
    assertEquals(res.body.data.totalMessages, 2);
    assertEquals(res.body.data.participants.length, 2);
    assertEquals(res.body.data.lastMessage, undefined);
    assert(!JSON.stringify(res.body).includes("análisis"));
    const list = await call(s, "GET", "/v1/chat/conversations", { token: f.admin.token });
    expectStatus(list, 200);
    assertEquals(list.body.data.map((c: Payload) => c.id), [id]);
    assert(!JSON.stringify(list.body).includes("análisis"));
  });

  await t.step("the admin reads no message", async () => {
    const messages = await call(s, "GET", `/v1/chat/conversations/${id}/messages`, { token: f.admin.token });
    assertProblem(messages, 404, "RES_001");
    const one = await call(s, "GET", `/v1/chat/messages/${rude.body.data.message.id}`, {
      token: f.admin.token,
    });
    assertProblem(one, 404, "RES_001");
  });

  await t.step("the patient reports a message; the admin reads that text, and no other", async () => {
    const reported = await call(s, "POST", "/v1/chat/report-message", {
      token: f.patient.token,
      body: { messageId: rude.body.data.message.id, reason: "abuse", details: "Me faltó el respeto" },
    });
    expectStatus(reported, 201);
    const stranger = await call(s, "POST", "/v1/chat/report-message", {
      token: f.otherPatient.token,
      body: { messageId: quiet.body.data.message.id, reason: "spam" },
    });
    assertProblem(stranger, 404, "RES_001");
    const bad = await call(s, "POST", "/v1/chat/report-message", {
      token: f.patient.token,
      body: { messageId: rude.body.data.message.id, reason: "boring" },
    });
    assertFieldErrors(bad, "reason");

    const list = await call(s, "GET", "/v1/chat/reports", { token: f.admin.token });
    expectStatus(list, 200);
    assertEquals(list.body.data.length, 1);
    assertEquals(list.body.data[0].message.content, "Mensaje ofensivo de prueba");
    assertEquals(list.body.data[0].reason, "abuse");
    assert(!JSON.stringify(list.body).includes("análisis"), "no other message's text");
    const notAdmin = await call(s, "GET", "/v1/chat/reports", { token: f.doctor.token });
    assertProblem(notAdmin, 403, "AUTH_002");
  });
}, { clock: () => clock7.now() });

// ---------------------------------------------------------------------------
// Video calls: 5 a day
// ---------------------------------------------------------------------------

const clock8 = testClock();
testBothDrivers("chat: at most 5 video calls a day per caller", async (t, s) => {
  clock8.set("2026-11-24T15:00:00Z");
  const f = await fixture(s);
  const id = await startConversation(s, f.patient.token, f.doctor.id);
  await t.step("the 6th call in a day is 429 RATE_001; the next day it is accepted", async () => {
    for (let i = 0; i < 5; i++) {
      const started = await call(s, "POST", "/v1/chat/video-call/start", {
        token: f.doctor.token,
        body: { conversationId: id },
      });
      expectStatus(started, 201);
      const ended = await call(s, "POST", "/v1/chat/video-call/end", {
        token: f.doctor.token,
        body: { callId: started.body.data.callId },
      });
      expectStatus(ended, 200);
    }
    const refused = await call(s, "POST", "/v1/chat/video-call/start", {
      token: f.doctor.token,
      body: { conversationId: id },
    });
    assertProblem(refused, 429, "RATE_001");
    clock8.advance(24 * 3600 * 1000);
    const nextDay = await call(s, "POST", "/v1/chat/video-call/start", {
      token: f.doctor.token,
      body: { conversationId: id },
    });
    expectStatus(nextDay, 201);
  });
}, { clock: () => clock8.now() });

const clock9 = testClock();
testBothDrivers(
  "chat: one's pinned conversations come first, and the cursor walks the list once",
  async (t, s) => {
    clock9.set("2026-11-24T15:00:00Z");
    const f = await fixture(s);
    const colleagues = await Promise.all([1, 2, 3].map(() => createUser(s, "doctor")));
    const ids: string[] = [];
    for (const [i, colleague] of colleagues.entries()) {
      clock9.advance(60_000);
      const res = await call(s, "POST", "/v1/chat/conversations", {
        token: f.doctor.token,
        body: { type: "group", title: `Equipo ${i + 1}`, participants: [colleague.id] },
      });
      expectStatus(res, 201);
      ids.push(res.body.data.id);
    }
    const [oldest, middle, newest] = ids;
    const walk = async (token: string) => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `?limit=1&cursor=${cursor}` : "?limit=1";
        const page = await call(s, "GET", `/v1/chat/conversations${query}`, { token });
        expectStatus(page, 200);
        seen.push(...page.body.data.map((c: Payload) => c.id));
        cursor = page.body.pageInfo.nextCursor;
      } while (cursor);
      return seen;
    };

    await t.step("unpinned, the latest activity first", async () => {
      assertEquals(await walk(f.doctor.token), [newest, middle, oldest]);
    });

    await t.step(
      "the doctor pins the oldest: it comes first for them, one page at a time, each once",
      async () => {
        const pinned = await call(s, "PUT", `/v1/chat/conversations/${oldest}`, {
          token: f.doctor.token,
          body: { pinned: true },
        });
        expectStatus(pinned, 200);
        assertEquals(await walk(f.doctor.token), [oldest, newest, middle]);
        const all = await call(s, "GET", "/v1/chat/conversations", { token: f.doctor.token });
        assertEquals(all.body.data.map((c: Payload) => c.id), [oldest, newest, middle]);
      },
    );

    await t.step("a pin is the doctor's own: the colleague in it sees no change", async () => {
      const colleague = await call(s, "GET", `/v1/chat/conversations/${oldest}`, {
        token: colleagues[0].token,
      });
      assertEquals(colleague.body.data.settings.pinned, false);
    });

    await t.step("unpinned again, the latest activity first again", async () => {
      const unpinned = await call(s, "PUT", `/v1/chat/conversations/${oldest}`, {
        token: f.doctor.token,
        body: { pinned: false },
      });
      expectStatus(unpinned, 200);
      assertEquals(await walk(f.doctor.token), [newest, middle, oldest]);
    });
  },
  { clock: () => clock9.now() },
);
