/**
 * Notifications (issue #19) over real HTTP and real supabase-js clients, on
 * PGlite and on PostgreSQL.
 *
 * What is real and what is a stand-in:
 *   - the API, the database (RLS, triggers, realtime.send), supabase-js and
 *     the `web-push` package are the real ones;
 *   - Realtime is the local stand-in for Supabase's (supabase/local/realtime/);
 *   - the browser's push service is the stand-in of supabase/local/push/: it
 *     makes subscriptions as a browser does, checks VAPID and decrypts.
 *
 * Covered: a patient's own topic `user:{id}` carries appointment_confirmed
 * and appointment_cancelled, consultation_opened, _started and _closed,
 * new_message with the unread badge (equal to GET /v1/chat/unread-count and
 * without the message's text), video_call_incoming, medical_file_shared
 * (ids and type, no file name); another user's join is
 * refused while the owner's succeeds; a client's broadcast there never
 * arrives. Push subscriptions: create (again: same id), list, delete own;
 * another user's delete is 404 and their list empty; bad input names the
 * field; a push reaches the stand-in and decrypts to the event; the one who
 * caused it gets no push; a 503 is tried again and delivered once; while a
 * push service holds a call the database answers, and the call times out; an
 * endpoint registered by another account moves to it; a 410 removes the
 * subscription; without VAPID keys
 * push is off (503) and in-app still works.
 */
import { createClient, type RealtimeChannel } from "@supabase/supabase-js";
import webpush from "web-push";
import { platformClient } from "./helpers/realtime.ts";
import { assertFieldErrors, assertMissingFields, assertProblem } from "./helpers/assertions.ts";
import { at, book, registerPatient, specialtyOf } from "./helpers/clinic.ts";
import { assert, assertEquals } from "./helpers/std.ts";
import { call, createUser, testBothDrivers, type TestStack } from "./helpers/stack.ts";
import { eventually } from "./helpers/wait.ts";
import { startPushServiceStandIn } from "../supabase/local/push/push-service.ts";

// deno-lint-ignore no-explicit-any
type Payload = any;

function expectStatus(res: { status: number; body: Payload }, status: number) {
  assertEquals(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
}

function subscribe(channel: RealtimeChannel): Promise<string> {
  return new Promise((resolve) => {
    let done = false;
    channel.subscribe((status) => {
      if (done) return;
      done = true;
      resolve(status);
    });
  });
}

function heard(channel: RealtimeChannel): Array<{ event: string; payload: Payload }> {
  const seen: Array<{ event: string; payload: Payload }> = [];
  channel.on("broadcast", { event: "*" }, (m) => seen.push({ event: m.event, payload: m.payload }));
  return seen;
}

/** Noon on a weekday in Buenos Aires: inside the chat's hours. */
const CHAT_NOW = "2026-11-24T15:00:00Z";

async function people(s: TestStack) {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const patient = await registerPatient(s, admin, "Pablo");
  const otherPatient = await registerPatient(s, admin, "Paula");
  const specialtyId = await specialtyOf(s, doctor);
  const bookAt = async (day: number) => {
    const res = await book(s, admin.token, {
      patientId: patient.id,
      doctorId: doctor.id,
      specialtyId,
      start: at(day, 10),
      end: at(day, 10, 30),
    });
    expectStatus(res, 201);
    return res.body.data.id as string;
  };
  /** The doctor confirms it. */
  const confirm = async (appointmentId: string) => {
    const res = await call(s, "PATCH", `/v1/appointments/${appointmentId}`, {
      token: doctor.token,
      body: { status: "CONFIRMED" },
    });
    expectStatus(res, 200);
    return res;
  };
  return { admin, doctor, patient, otherPatient, bookAt, confirm };
}

testBothDrivers(
  "notifications: the patient's own topic carries their visit, messages and appointments",
  async (t, s) => {
    const p = await people(s);
    const patientRt = await platformClient(s, p.patient.token);
    const otherRt = await platformClient(s, p.otherPatient.token);
    const secondDevice = await platformClient(s, p.patient.token);
    try {
      const topic = `user:${p.patient.id}`;
      const channel = patientRt.channel(topic, { config: { private: true } });
      const events = heard(channel);
      const secondChannel = secondDevice.channel(topic, { config: { private: true } });
      const secondEvents = heard(secondChannel);
      const find = (event: string, pick: (payload: Payload) => boolean = () => true) =>
        eventually(event, () => events.find((e) => e.event === event && pick(e.payload))?.payload);

      await t.step("the patient joins user:{patientId}; another patient is refused", async () => {
        assertEquals(await subscribe(channel), "SUBSCRIBED");
        assertEquals(await subscribe(secondChannel), "SUBSCRIBED");
        assertEquals(await subscribe(otherRt.channel(topic, { config: { private: true } })), "CHANNEL_ERROR");
        assertEquals(
          await subscribe(otherRt.channel(`user:${p.otherPatient.id}`, { config: { private: true } })),
          "SUBSCRIBED",
        );
      });

      const appointmentId = await p.bookAt(2);
      await t.step("the doctor confirms the appointment: appointment_confirmed", async () => {
        const res = await p.confirm(appointmentId);
        const event = await find("appointment_confirmed");
        assertEquals(event.appointmentId, appointmentId);
        assertEquals(event.status, "CONFIRMED");
        assertEquals(event.startsAt, res.body.data.startAppointment);
        assertEquals(event.doctorId, p.doctor.id);
        assert(!("reason" in event), "the appointment's reason is clinical text: not in the event");
      });

      let consultationId = "";
      await t.step("open, check-in, start, close: consultation_opened, _started, _closed", async () => {
        const opened = await call(s, "POST", "/v1/consultations", {
          token: p.doctor.token,
          body: { appointmentId },
        });
        expectStatus(opened, 201);
        consultationId = opened.body.data.id;
        assertEquals((await find("consultation_opened")).consultationId, consultationId);
        expectStatus(
          await call(s, "POST", `/v1/consultations/${consultationId}/check-in`, { token: p.patient.token }),
          200,
        );
        assertEquals(events.filter((e) => e.event === "consultation_started").length, 0);
        const started = await call(s, "POST", `/v1/consultations/${consultationId}/start`, {
          token: p.doctor.token,
        });
        expectStatus(started, 200);
        const event = await find("consultation_started");
        assertEquals(event.consultationId, consultationId);
        assertEquals(event.status, "in_progress");
        assertEquals(event.startedAt, started.body.data.startedAt);
        const closed = await call(s, "POST", `/v1/consultations/${consultationId}/close`, {
          token: p.doctor.token,
        });
        expectStatus(closed, 200);
        assertEquals((await find("consultation_closed")).closedAt, closed.body.data.closedAt);
      });

      await t.step(
        "a client's broadcast on the topic reaches nobody, not even the user's other device",
        async () => {
          const before = secondEvents.length;
          const forged = { consultationId, status: "closed" };
          await channel.send({ type: "broadcast", event: "consultation_closed", payload: forged });
          await channel.httpSend("appointment_cancelled", { appointmentId });
          // A server event sent after the forgeries arrives: they were dropped, not late.
          const cancelled = await p.bookAt(3);
          expectStatus(
            await call(s, "POST", `/v1/appointments/${cancelled}/cancel`, { token: p.patient.token }),
            200,
          );
          const event = await eventually(
            "appointment_cancelled on the second device",
            () => secondEvents.find((e) => e.event === "appointment_cancelled")?.payload,
          );
          assertEquals(event.appointmentId, cancelled);
          assertEquals(event.status, "CANCELLED");
          assertEquals(
            secondEvents.slice(before).map((e) => e.event),
            ["appointment_cancelled"],
            "only the server's event arrived",
          );
        },
      );

      await t.step(
        "the doctor writes twice, calls, shares a file: new_message with the badge, video_call_incoming, medical_file_shared",
        async () => {
          const conv = await call(s, "POST", "/v1/chat/conversations", {
            token: p.doctor.token,
            body: { type: "direct", participants: [p.patient.id] },
          });
          expectStatus(conv, 201);
          const conversationId = conv.body.data.id;
          for (const [i, content] of ["Hola Pablo", "¿Cómo sigue?"].entries()) {
            const sent = await call(s, "POST", `/v1/chat/conversations/${conversationId}/messages`, {
              token: p.doctor.token,
              body: { content },
            });
            expectStatus(sent, 201);
            const event = await find("new_message", (e) => e.messageId === sent.body.data.message.id);
            assertEquals(event.conversationId, conversationId);
            assertEquals(event.senderId, p.doctor.id);
            assertEquals(event.badge, i + 1);
            assert(!JSON.stringify(event).includes(content), "the message's text is not in the notification");
          }
          const unread = await call(s, "GET", "/v1/chat/unread-count", { token: p.patient.token });
          expectStatus(unread, 200);
          assertEquals(unread.body.data.total, 2, "the badge is the chat's own unread count");
          assertEquals(events.filter((e) => e.event === "new_message").length, 2);

          const callRes = await call(s, "POST", "/v1/chat/video-call/start", {
            token: p.doctor.token,
            body: { conversationId },
          });
          expectStatus(callRes, 201);
          const incoming = await find("video_call_incoming");
          assertEquals(incoming.conversationId, conversationId);
          assertEquals(incoming.callerId, p.doctor.id);

          const bytes = new TextEncoder().encode("%PDF-1.4 receta");
          const prepared = await call(s, "POST", "/v1/chat/upload-file", {
            token: p.doctor.token,
            body: {
              conversationId,
              filename: "receta.pdf",
              mimeType: "application/pdf",
              sizeBytes: bytes.length,
            },
          });
          expectStatus(prepared, 201);
          const { fileId, uploadUrl, objectKey } = prepared.body.data;
          const storage = createClient(s.origin, s.stack.anonKey, {
            accessToken: () => Promise.resolve(p.doctor.token),
          }).storage;
          const uploaded = await storage.from("chat-files").uploadToSignedUrl(
            objectKey,
            new URL(uploadUrl).searchParams.get("token")!,
            new Blob([bytes], { type: "application/pdf" }),
          );
          assertEquals(uploaded.error, null);
          assertEquals(
            events.filter((e) => e.event === "medical_file_shared").length,
            0,
            "not before it is shared",
          );
          const withFile = await call(s, "POST", `/v1/chat/conversations/${conversationId}/messages`, {
            token: p.doctor.token,
            body: { attachments: [fileId] },
          });
          expectStatus(withFile, 201);
          const shared = await find("medical_file_shared");
          assertEquals(shared.fileId, fileId);
          assertEquals(shared.messageId, withFile.body.data.message.id);
          assertEquals(shared.mimeType, "application/pdf");
          assertEquals(shared.sharedBy, p.doctor.id);
          assert(!JSON.stringify(shared).includes("receta"), "no file name in the notification");
          assertEquals(
            (await find("new_message", (e) => e.messageId === withFile.body.data.message.id)).badge,
            3,
          );
        },
      );
    } finally {
      await Promise.all([patientRt, otherRt, secondDevice].map((c) => c.removeAllChannels()));
    }
  },
  { clock: () => new Date(Date.parse(CHAT_NOW) + (Date.now() % 3_600_000)) },
);

// ---------------------------------------------------------------------------
// Web Push
// ---------------------------------------------------------------------------

const vapid = webpush.generateVAPIDKeys();
const pushService = startPushServiceStandIn();
addEventListener("unload", () => pushService.close());

const PUSH_TIMEOUT_MS = 1_500;
const PUSH_ENV = {
  WEB_PUSH_TIMEOUT_MS: String(PUSH_TIMEOUT_MS),
  WEB_PUSH_VAPID_PUBLIC_KEY: vapid.publicKey,
  WEB_PUSH_VAPID_PRIVATE_KEY: vapid.privateKey,
  WEB_PUSH_SUBJECT: "mailto:ops@consultorio.test",
  WEB_PUSH_LOCAL_ORIGIN: pushService.origin,
};

async function runPush(s: TestStack) {
  const res = await fetch(`${s.origin}/functions/v1/push`, {
    method: "POST",
    headers: { apikey: s.stack.secretKey },
  });
  assertEquals(res.status, 200);
  return await res.json();
}

testBothDrivers(
  "notifications: push subscriptions per device, delivered encrypted, removed on 410",
  async (t, s) => {
    const p = await people(s);
    const path = "/v1/notifications/push-subscriptions";

    await t.step("push-config gives the VAPID public key", async () => {
      const res = await call(s, "GET", "/v1/notifications/push-config", { token: p.patient.token });
      expectStatus(res, 200);
      assertEquals(res.body.data, { enabled: true, publicKey: vapid.publicKey });
    });

    await t.step("bad input is 400 naming the field", async () => {
      const device = await pushService.subscribe(vapid.publicKey);
      const cases: Array<[unknown, string]> = [
        [{ ...device, endpoint: "http://push.example.com/abc" }, "endpoint"],
        [{ ...device, endpoint: "https://10.0.0.1/abc" }, "endpoint"],
        [{ ...device, endpoint: `https://push.example.com/${"a".repeat(1100)}` }, "endpoint"],
        [{ ...device, keys: { ...device.keys, auth: "short" } }, "keys.auth"],
      ];
      for (const [body, field] of cases) {
        assertFieldErrors(await call(s, "POST", path, { token: p.patient.token, body }), field);
      }
      const missing: Array<[unknown, string]> = [
        [{ endpoint: device.endpoint }, "keys"],
        [{ ...device, keys: { auth: device.keys.auth } }, "keys.p256dh"],
      ];
      for (const [body, field] of missing) {
        assertMissingFields(await call(s, "POST", path, { token: p.patient.token, body }), field);
      }
      const list = await call(s, "GET", path, { token: p.patient.token });
      assertEquals(list.body.data, [], "nothing was saved");
    });

    const device = await pushService.subscribe(vapid.publicKey);
    let id = "";
    await t.step("the patient registers a device; again keeps its id; only they list it", async () => {
      const res = await call(s, "POST", path, { token: p.patient.token, body: device });
      expectStatus(res, 201);
      id = res.body.data.id;
      assertEquals(res.body.data.endpoint, device.endpoint);
      const again = await call(s, "POST", path, { token: p.patient.token, body: device });
      expectStatus(again, 201);
      assertEquals(again.body.data.id, id);
      const mine = await call(s, "GET", path, { token: p.patient.token });
      assertEquals(mine.body.data.map((x: Payload) => x.id), [id]);
      const theirs = await call(s, "GET", path, { token: p.otherPatient.token });
      assertEquals(theirs.body.data, []);
      assertProblem(
        await call(s, "DELETE", `${path}/${id}`, { token: p.otherPatient.token }),
        404,
        "RES_001",
      );
    });

    await t.step("a confirmed appointment reaches the device, encrypted, signed with VAPID", async () => {
      const appointmentId = await p.bookAt(2);
      await p.confirm(appointmentId);
      const before = pushService.received.length;
      const run = await runPush(s);
      assertEquals(run, { enabled: true, sent: 1, gone: 0, failed: 0 });
      const push = pushService.received[before];
      assertEquals(push.endpoint, device.endpoint);
      assertEquals(push.vapidKey, vapid.publicKey);
      assertEquals(push.subject, "mailto:ops@consultorio.test");
      const payload = JSON.parse(push.payload);
      assertEquals(payload.type, "appointment_confirmed");
      assertEquals(payload.data.appointmentId, appointmentId);
      assertEquals(payload.data.status, "CONFIRMED");
      assertEquals(await runPush(s), { enabled: true, sent: 0, gone: 0, failed: 0 }, "sent once");
      const listed = await call(s, "GET", path, { token: p.patient.token });
      assert(listed.body.data[0].lastSentAt !== null);
    });

    await t.step("the push service fails (503): tried again by the next run, delivered once", async () => {
      pushService.failNext(device.endpoint, 503);
      const appointmentId = await p.bookAt(5);
      await p.confirm(appointmentId);
      const before = pushService.received.length;
      assertEquals(await runPush(s), { enabled: true, sent: 0, gone: 0, failed: 1 });
      assertEquals(await runPush(s), { enabled: true, sent: 1, gone: 0, failed: 0 });
      assertEquals(pushService.received.length, before + 1);
      assertEquals(JSON.parse(pushService.received[before].payload).data.appointmentId, appointmentId);
    });

    await t.step("no transaction waits on the push service, and a silent one times out", async () => {
      const appointmentId = await p.bookAt(6);
      await p.confirm(appointmentId);
      const stall = pushService.stallNext(device.endpoint);
      const started = Date.now();
      const run = runPush(s);
      await stall.arrived;
      // While the push service holds the call, the database answers the device's owner at once.
      const list = await call(s, "GET", path, { token: p.patient.token });
      expectStatus(list, 200);
      assert(Date.now() - started < PUSH_TIMEOUT_MS, "the database waited for the push service");
      assertEquals(await run, { enabled: true, sent: 0, gone: 0, failed: 1 }, "given up at the timeout");
      assert(Date.now() - started >= PUSH_TIMEOUT_MS);
      stall.release();
      assertEquals((await runPush(s)).sent, 1, "tried again by the next run");
    });

    await t.step(
      "the same endpoint registered by another account (a shared device) moves to it",
      async () => {
        const shared = await pushService.subscribe(vapid.publicKey);
        const mine = await call(s, "POST", path, { token: p.patient.token, body: shared });
        expectStatus(mine, 201);
        const theirs = await call(s, "POST", path, { token: p.otherPatient.token, body: shared });
        expectStatus(theirs, 201);
        const patientList = await call(s, "GET", path, { token: p.patient.token });
        assertEquals(patientList.body.data.map((x: Payload) => x.endpoint), [device.endpoint]);
        const otherList = await call(s, "GET", path, { token: p.otherPatient.token });
        assertEquals(otherList.body.data.map((x: Payload) => x.endpoint), [shared.endpoint]);
        expectStatus(
          await call(s, "DELETE", `${path}/${theirs.body.data.id}`, { token: p.otherPatient.token }),
          200,
        );
      },
    );

    await t.step("who caused the change gets no push: the patient cancels", async () => {
      const appointmentId = await p.bookAt(3);
      expectStatus(
        await call(s, "POST", `/v1/appointments/${appointmentId}/cancel`, { token: p.patient.token }),
        200,
      );
      assertEquals((await runPush(s)).sent, 0);
    });

    await t.step("the push service answers 410: the subscription is removed", async () => {
      pushService.expire(device.endpoint);
      const appointmentId = await p.bookAt(4);
      await p.confirm(appointmentId);
      assertEquals(await runPush(s), { enabled: true, sent: 0, gone: 1, failed: 0 });
      const list = await call(s, "GET", path, { token: p.patient.token });
      assertEquals(list.body.data, []);
    });

    await t.step("the patient deletes a device of theirs", async () => {
      const other = await pushService.subscribe(vapid.publicKey);
      const res = await call(s, "POST", path, { token: p.patient.token, body: other });
      expectStatus(res, 201);
      expectStatus(await call(s, "DELETE", `${path}/${res.body.data.id}`, { token: p.patient.token }), 200);
      assertEquals((await call(s, "GET", path, { token: p.patient.token })).body.data, []);
      assertProblem(
        await call(s, "DELETE", `${path}/${res.body.data.id}`, { token: p.patient.token }),
        404,
        "RES_001",
      );
    });

    assertEquals(
      pushService.refused.filter((r) => r.status !== 410 && r.status !== 503),
      [],
      "every push was well-formed",
    );
  },
  { env: PUSH_ENV },
);

testBothDrivers("notifications: without VAPID keys push is off and in-app still works", async (t, s) => {
  const p = await people(s);
  await t.step("push-config says off; a subscription is 503", async () => {
    const cfg = await call(s, "GET", "/v1/notifications/push-config", { token: p.patient.token });
    assertEquals(cfg.body.data, { enabled: false, publicKey: null });
    const device = await pushService.subscribe();
    assertProblem(
      await call(s, "POST", "/v1/notifications/push-subscriptions", { token: p.patient.token, body: device }),
      503,
      "SRV_002",
    );
  });
  await t.step("the topic still carries the events", async () => {
    const rt = await platformClient(s, p.patient.token);
    try {
      const channel = rt.channel(`user:${p.patient.id}`, { config: { private: true } });
      const events = heard(channel);
      assertEquals(await subscribe(channel), "SUBSCRIBED");
      const appointmentId = await p.bookAt(2);
      await p.confirm(appointmentId);
      await eventually(
        "appointment_confirmed",
        () => events.find((e) => e.event === "appointment_confirmed"),
      );
    } finally {
      await rt.removeAllChannels();
    }
  });
}, { env: { WEB_PUSH_VAPID_PUBLIC_KEY: "", WEB_PUSH_VAPID_PRIVATE_KEY: "" } });
