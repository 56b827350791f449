/**
 * Video on LiveKit (issue #7) over real HTTP, on PGlite and on PostgreSQL.
 *
 * What is real and what is a stand-in: the API, the livekit-webhook function,
 * the database and the official livekit-server-sdk are the real ones; LiveKit
 * itself is the LOCAL STAND-IN (supabase/local/livekit/), which speaks
 * LiveKit's Twirp wire format (POST /twirp/livekit.RoomService/*,
 * /twirp/livekit.Egress/*, protobuf JSON, the SDK's JWT with video grants):
 * the real RoomServiceClient and EgressClient talk to it unchanged through
 * the test stack's gateway, and it sends webhooks signed as LiveKit does.
 * Participants "connect" through the stand-in's join() (there is no media).
 *
 * Covered: room creation (idempotent, the caller's own token only), token
 * grants per role decoded (doctor, patient, observer), the doctor's audited
 * observer grant, the active list (doctor with identities, admin without),
 * stats, removing a participant, recording refused without both consents
 * (409 VID_001), started with them, stopped, stopped by a revocation; the
 * webhook applied once when delivered twice, forged or tampered ones refused
 * (401, nothing stored); health's livekit field; and every endpoint refused
 * to the wrong role next to the rightful user's success.
 */
import { decodeJwt } from "jose";
import { AccessToken, RoomServiceClient } from "livekit-server-sdk";
import { assertFieldErrors, assertProblem } from "./helpers/assertions.ts";
import { at, book, registerPatient, specialtyOf, type TestPatient } from "./helpers/clinic.ts";
import { assert, assertEquals } from "./helpers/std.ts";
import {
  call,
  createUser,
  startTestStack,
  testBothDrivers,
  type TestStack,
  type TestUser,
} from "./helpers/stack.ts";

// deno-lint-ignore no-explicit-any
type Payload = any;

interface Fixture {
  admin: TestUser;
  doctor: TestUser;
  otherDoctor: TestUser;
  patient: TestPatient;
  otherPatient: TestPatient;
  id: string;
  roomName: string;
}

/** A consultation of a confirmed appointment, opened by its doctor (started unless `start` is false). */
async function fixture(s: TestStack, start = true): Promise<Fixture> {
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const otherDoctor = await createUser(s, "doctor");
  const patient = await registerPatient(s, admin, "Pablo");
  const otherPatient = await registerPatient(s, admin, "Paula");
  const booked = await book(s, admin.token, {
    patientId: patient.id,
    doctorId: doctor.id,
    specialtyId: await specialtyOf(s, doctor),
    start: at(3, 11),
    end: at(3, 11, 30),
  });
  expectStatus(booked, 201);
  expectStatus(
    await call(s, "PATCH", `/v1/appointments/${booked.body.data.id}`, {
      token: doctor.token,
      body: { status: "CONFIRMED" },
    }),
    200,
  );
  const opened = await call(s, "POST", "/v1/consultations", {
    token: doctor.token,
    body: { appointmentId: booked.body.data.id },
  });
  expectStatus(opened, 201);
  const id = opened.body.data.id;
  if (start) {
    expectStatus(await call(s, "POST", `/v1/consultations/${id}/start`, { token: doctor.token }), 200);
  }
  return { admin, doctor, otherDoctor, patient, otherPatient, id, roomName: `consultation-${id}` };
}

function expectStatus(res: { status: number; body: Payload }, status: number) {
  assertEquals(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
}

const createRoom = (s: TestStack, token: string, consultationId: string) =>
  call(s, "POST", "/v1/video/rooms", { token, body: { consultationId } });

const standIn = (s: TestStack) => {
  assert(s.stack.livekit, "the local LiveKit stand-in is served");
  return s.stack.livekit;
};

async function ownerQuery<T>(s: TestStack, sql: string, params: unknown[] = []): Promise<T[]> {
  return await s.stack.deps.db.queryAsOwner<T>(sql, params);
}

// ---------------------------------------------------------------------------
// Rooms, tokens, observers, RoomService
// ---------------------------------------------------------------------------

testBothDrivers("video: rooms, tokens by role, observers and the room service", async (t, s) => {
  const f = await fixture(s, false);

  await t.step("before the consultation starts there is no room (409 CON_002)", async () => {
    assertProblem(await createRoom(s, f.patient.token, f.id), 409, "CON_002");
    expectStatus(await call(s, "POST", `/v1/consultations/${f.id}/start`, { token: f.doctor.token }), 200);
  });

  let roomSid = "";
  await t.step(
    "the doctor creates the room: ids from the consultation, only the doctor's token",
    async () => {
      const res = await createRoom(s, f.doctor.token, f.id);
      expectStatus(res, 201);
      const data = res.body.data;
      assertEquals(data.roomName, f.roomName);
      assertEquals(data.doctorId, f.doctor.id);
      assertEquals(data.patientId, f.patient.id);
      assertEquals(data.livekitUrl, s.origin.replace("http", "ws"));
      assertEquals(data.role, "doctor");
      assert(data.roomSid.startsWith("RM_"), data.roomSid);
      assert(!("patientToken" in data) && !("doctorToken" in data), "never the other party's token");
      roomSid = data.roomSid;
      const d = decodeJwt<Payload>(data.token);
      assertEquals(d.sub, f.doctor.id);
      assert(d.exp - d.nbf <= 2 * 60 * 60, "at most 2 hours");
      assertEquals(d.video.roomJoin, true);
      assertEquals(d.video.room, f.roomName);
      assertEquals(d.video.canPublish, true);
      assertEquals(d.video.canSubscribe, true);
      assertEquals(d.video.canPublishSources, ["camera", "microphone", "screen_share"]);
      assertEquals(d.video.roomAdmin, true);
      assert(!d.video.roomRecord, "no recording from the client");
    },
  );

  await t.step("again (and by the patient) answers the same room, with the caller's token", async () => {
    const again = await createRoom(s, f.doctor.token, f.id);
    expectStatus(again, 200);
    assertEquals(again.body.data.roomSid, roomSid);
    const patient = await createRoom(s, f.patient.token, f.id);
    expectStatus(patient, 200);
    assertEquals(patient.body.data.roomSid, roomSid);
    assertEquals(patient.body.data.role, "patient");
    const p = decodeJwt<Payload>(patient.body.data.token);
    assertEquals(p.sub, f.patient.id);
    assertEquals(p.video.room, f.roomName);
    assertEquals(p.video.canPublish, true);
    assertEquals(p.video.canPublishSources, ["camera", "microphone"]);
    assert(!p.video.roomAdmin && !p.video.roomRecord, "the patient neither administers nor records");
    const rows = await ownerQuery<{ n: number }>(
      s,
      "select count(*)::int as n from public.video_rooms where consultation_id = $1",
      [f.id],
    );
    assertEquals(rows[0].n, 1);
  });

  await t.step("the wrong callers: another patient 404, an admin 403", async () => {
    assertProblem(await createRoom(s, f.otherPatient.token, f.id), 404, "RES_001");
    assertProblem(await createRoom(s, f.admin.token, f.id), 403, "AUTH_002");
    assertProblem(await createRoom(s, f.otherDoctor.token, f.id), 404, "RES_001");
  });

  await t.step(
    "observers: only the doctor grants them (audited); they get a subscribe-only token",
    async () => {
      const path = `/v1/consultations/${f.id}/observers`;
      const body = { userId: f.otherDoctor.id };
      assertProblem(await call(s, "POST", path, { token: f.patient.token, body }), 403, "AUTH_002");
      assertProblem(await call(s, "POST", path, { token: f.otherPatient.token, body }), 404, "RES_001");
      assertProblem(await call(s, "POST", path, { token: f.admin.token, body }), 403, "AUTH_002");
      assertProblem(
        await call(s, "POST", path, { token: f.doctor.token, body: { userId: f.admin.id } }),
        400,
        "VAL_001",
      );
      const granted = await call(s, "POST", path, { token: f.doctor.token, body });
      expectStatus(granted, 201);
      assertEquals(granted.body.data.grantedBy, f.doctor.id);
      expectStatus(await call(s, "POST", path, { token: f.doctor.token, body }), 200);
      const audit = await ownerQuery<{ n: number }>(
        s,
        `select count(*)::int as n from public.audit_events
        where actor_id = $1 and action = 'grant' and resource_type = 'consultation_observer' and resource_id = $2`,
        [f.doctor.id, f.id],
      );
      assertEquals(audit[0].n, 1);

      const room = await createRoom(s, f.otherDoctor.token, f.id);
      expectStatus(room, 200);
      assertEquals(room.body.data.role, "observer");
      const o = decodeJwt<Payload>(room.body.data.token);
      assertEquals(o.sub, f.otherDoctor.id);
      assertEquals(o.video.roomJoin, true);
      assertEquals(o.video.canSubscribe, true);
      assertEquals(o.video.canPublish, false);
      assertEquals(o.video.canPublishSources ?? [], []);
      assert(!o.video.canPublishData && !o.video.roomAdmin, "subscribe only");
      const token = await call(s, "POST", `/v1/consultations/${f.id}/livekit-token`, {
        token: f.otherDoctor.token,
      });
      expectStatus(token, 200);
      assertEquals(decodeJwt<Payload>(token.body.data.token).video.canPublish, false);
    },
  );

  await t.step(
    "active rooms: the doctor's own with identities; an admin's without names or identities",
    async () => {
      standIn(s).join(f.roomName, f.doctor.id);
      standIn(s).join(f.roomName, f.patient.id);
      const doctor = await call(s, "GET", "/v1/rooms/active", { token: f.doctor.token });
      expectStatus(doctor, 200);
      const mine = doctor.body.data.find((r: Payload) => r.consultationId === f.id);
      assertEquals(mine.roomName, f.roomName);
      assertEquals(mine.roomSid, roomSid);
      assertEquals(mine.numParticipants, 2);
      assertEquals([...mine.participants].sort(), [f.doctor.id, f.patient.id].sort());
      assertEquals(doctor.body.pageInfo.nextCursor, null);

      const admin = await call(s, "GET", "/v1/rooms/active", { token: f.admin.token });
      expectStatus(admin, 200);
      const seen = admin.body.data.find((r: Payload) => r.consultationId === f.id);
      assertEquals(seen.numParticipants, 2);
      assert(
        !("roomName" in seen) && !("participants" in seen) && !("roomSid" in seen),
        JSON.stringify(seen),
      );

      const other = await call(s, "GET", "/v1/rooms/active", { token: f.otherDoctor.token });
      expectStatus(other, 200);
      assertEquals(other.body.data.filter((r: Payload) => r.consultationId === f.id), []);
      assertProblem(await call(s, "GET", "/v1/rooms/active", { token: f.patient.token }), 403, "AUTH_002");
    },
  );

  await t.step("stats: the room's doctor only", async () => {
    const path = `/v1/rooms/${f.roomName}/stats`;
    const res = await call(s, "GET", path, { token: f.doctor.token });
    expectStatus(res, 200);
    assertEquals(res.body.data.consultationId, f.id);
    assertEquals(res.body.data.numParticipants, 2);
    const roles = Object.fromEntries(res.body.data.participants.map((p: Payload) => [p.identity, p.role]));
    assertEquals(roles, { [f.doctor.id]: "doctor", [f.patient.id]: "patient" });
    assertEquals(res.body.data.recording, null);
    assertProblem(await call(s, "GET", path, { token: f.patient.token }), 403, "AUTH_002");
    assertProblem(await call(s, "GET", path, { token: f.admin.token }), 403, "AUTH_002");
    assertProblem(await call(s, "GET", path, { token: f.otherDoctor.token }), 404, "RES_001");
    assertProblem(
      await call(s, "GET", "/v1/rooms/consultation-nope/stats", { token: f.doctor.token }),
      404,
      "RES_001",
    );
  });

  await t.step("removing a participant: the room's doctor only; one not in the room is 404", async () => {
    const path = `/v1/rooms/${f.roomName}/participants/${f.patient.id}`;
    assertProblem(await call(s, "DELETE", path, { token: f.patient.token }), 403, "AUTH_002");
    assertProblem(await call(s, "DELETE", path, { token: f.admin.token }), 403, "AUTH_002");
    assertProblem(await call(s, "DELETE", path, { token: f.otherDoctor.token }), 404, "RES_001");
    const res = await call(s, "DELETE", path, { token: f.doctor.token });
    expectStatus(res, 200);
    assertEquals(res.body.data.removed, true);
    assertProblem(await call(s, "DELETE", path, { token: f.doctor.token }), 404, "RES_001");
    const stats = await call(s, "GET", `/v1/rooms/${f.roomName}/stats`, { token: f.doctor.token });
    assertEquals(stats.body.data.numParticipants, 1);
    assertEquals(standIn(s).calls.get("livekit.RoomService/RemoveParticipant"), 1);
  });

  await t.step("the doctor revokes an observer: out of the room, no new token, audited", async () => {
    standIn(s).join(f.roomName, f.otherDoctor.id);
    const path = `/v1/consultations/${f.id}/observers/${f.otherDoctor.id}`;
    assertProblem(await call(s, "DELETE", path, { token: f.patient.token }), 403, "AUTH_002");
    assertProblem(await call(s, "DELETE", path, { token: f.otherPatient.token }), 404, "RES_001");
    assertProblem(await call(s, "DELETE", path, { token: f.admin.token }), 403, "AUTH_002");
    assertFieldErrors(
      await call(s, "DELETE", `/v1/consultations/${f.id}/observers/not-a-uuid`, { token: f.doctor.token }),
      "userId",
    );
    const tokenPath = `/v1/consultations/${f.id}/livekit-token`;
    expectStatus(await call(s, "POST", tokenPath, { token: f.otherDoctor.token }), 200);

    const removals = standIn(s).calls.get("livekit.RoomService/RemoveParticipant") ?? 0;
    const res = await call(s, "DELETE", path, { token: f.doctor.token });
    expectStatus(res, 200);
    assertEquals(res.body.data, { consultationId: f.id, userId: f.otherDoctor.id, revoked: true });
    assertEquals(standIn(s).calls.get("livekit.RoomService/RemoveParticipant"), removals + 1);
    const stats = await call(s, "GET", `/v1/rooms/${f.roomName}/stats`, { token: f.doctor.token });
    assert(
      !stats.body.data.participants.some((p: Payload) => p.identity === f.otherDoctor.id),
      "no longer in the room",
    );
    assertProblem(await call(s, "POST", tokenPath, { token: f.otherDoctor.token }), 404, "RES_001");
    assertProblem(await call(s, "DELETE", path, { token: f.doctor.token }), 404, "RES_001");
    const audit = await ownerQuery<{ n: number }>(
      s,
      `select count(*)::int as n from public.audit_events
        where actor_id = $1 and action = 'revoke' and resource_type = 'consultation_observer' and resource_id = $2`,
      [f.doctor.id, f.id],
    );
    assertEquals(audit[0].n, 1);
  });

  await t.step("the webhooks of the joins and the removal reached the database", async () => {
    await standIn(s).settled();
    const rows = await ownerQuery<{ identity: string; joins: number; left: boolean }>(
      s,
      `select identity, joins, left_at is not null as left from public.video_participants
        where consultation_id = $1 order by identity`,
      [f.id],
    );
    const byIdentity = Object.fromEntries(rows.map((r) => [r.identity, r]));
    assertEquals(byIdentity[f.doctor.id].joins, 1);
    assertEquals(byIdentity[f.doctor.id].left, false);
    assertEquals(byIdentity[f.patient.id].left, true);
  });

  await t.step(
    "closing ends the room: LiveKit deletes it, everyone is out, and it cannot be made again",
    async () => {
      assertEquals(standIn(s).calls.get("livekit.RoomService/DeleteRoom") ?? 0, 0);
      expectStatus(await call(s, "POST", `/v1/consultations/${f.id}/close`, { token: f.doctor.token }), 200);
      assertEquals(standIn(s).calls.get("livekit.RoomService/DeleteRoom"), 1);
      assertEquals(await s.stack.deps.video.listRooms([f.roomName]), []);
      await standIn(s).settled();
      const [room] = await ownerQuery<{ finished: boolean; inside: number }>(
        s,
        `select r.finished_at is not null as finished,
              (select count(*)::int from public.video_participants p
                where p.consultation_id = r.consultation_id and p.left_at is null) as inside
         from public.video_rooms r where r.room_name = $1`,
        [f.roomName],
      );
      assertEquals(room, { finished: true, inside: 0 });
      assertProblem(await createRoom(s, f.doctor.token, f.id), 409, "CON_001");
      // Closing again (an admin this time) is a no-op: the room is already gone, and that is no error.
      expectStatus(await call(s, "POST", `/v1/consultations/${f.id}/close`, { token: f.admin.token }), 200);
    },
  );
});

// ---------------------------------------------------------------------------
// Recording
// ---------------------------------------------------------------------------

testBothDrivers("video: recording needs both consents; a revocation stops it", async (t, s) => {
  const f = await fixture(s);
  const path = (what: string) => `/v1/consultations/${f.id}/recording/${what}`;
  const consent = (token: string, granted: boolean) =>
    call(s, "POST", path("consent"), { token, body: { granted } });
  expectStatus(await createRoom(s, f.doctor.token, f.id), 201);

  await t.step("without both consents the start is 409 VID_001", async () => {
    assertProblem(await call(s, "POST", path("start"), { token: f.doctor.token }), 409, "VID_001");
    const doctor = await consent(f.doctor.token, true);
    expectStatus(doctor, 200);
    assertEquals(doctor.body.data.consents, { doctor: true, patient: null });
    assertProblem(await call(s, "POST", path("start"), { token: f.doctor.token }), 409, "VID_001");
  });

  await t.step("consent is each party's own: wrong callers refused", async () => {
    assertProblem(await consent(f.otherPatient.token, true), 404, "RES_001");
    assertProblem(await consent(f.admin.token, true), 403, "AUTH_002");
    assertProblem(await consent(f.otherDoctor.token, true), 404, "RES_001");
  });

  let egressId = "";
  await t.step("with both consents the doctor starts it through Egress (again answers it)", async () => {
    expectStatus(await consent(f.patient.token, true), 200);
    assertProblem(await call(s, "POST", path("start"), { token: f.patient.token }), 403, "AUTH_002");
    assertProblem(await call(s, "POST", path("start"), { token: f.otherPatient.token }), 404, "RES_001");
    assertProblem(await call(s, "POST", path("start"), { token: f.admin.token }), 403, "AUTH_002");
    const res = await call(s, "POST", path("start"), { token: f.doctor.token });
    expectStatus(res, 201);
    assertEquals(res.body.data.consents, { doctor: true, patient: true });
    assertEquals(res.body.data.recording.status, "active");
    egressId = res.body.data.recording.egressId;
    assert(egressId.startsWith("EG_"), egressId);
    const again = await call(s, "POST", path("start"), { token: f.doctor.token });
    expectStatus(again, 200);
    assertEquals(again.body.data.recording.egressId, egressId);
    assertEquals(standIn(s).calls.get("livekit.Egress/StartRoomCompositeEgress"), 1);
    const stats = await call(s, "GET", `/v1/rooms/${f.roomName}/stats`, { token: f.doctor.token });
    assertEquals(stats.body.data.recording.egressId, egressId);
  });

  await t.step("the doctor stops it; stopping again is 409 VID_002", async () => {
    assertProblem(await call(s, "POST", path("stop"), { token: f.patient.token }), 403, "AUTH_002");
    assertProblem(await call(s, "POST", path("stop"), { token: f.admin.token }), 403, "AUTH_002");
    const res = await call(s, "POST", path("stop"), { token: f.doctor.token });
    expectStatus(res, 200);
    assertEquals(res.body.data.recording.status, "ended");
    assertEquals(res.body.data.recording.stopReason, "stopped");
    assert(res.body.data.recording.endedAt);
    assertProblem(await call(s, "POST", path("stop"), { token: f.doctor.token }), 409, "VID_002");
  });

  await t.step("a revocation by the patient stops the active recording; a new start is refused", async () => {
    const started = await call(s, "POST", path("start"), { token: f.doctor.token });
    expectStatus(started, 201);
    const second = started.body.data.recording.egressId;
    assert(second !== egressId);
    const revoked = await consent(f.patient.token, false);
    expectStatus(revoked, 200);
    assertEquals(revoked.body.data.consents, { doctor: true, patient: false });
    assertEquals(revoked.body.data.recording.egressId, second);
    assertEquals(revoked.body.data.recording.status, "ended");
    assertEquals(revoked.body.data.recording.stopReason, "consent_revoked");
    assertEquals(standIn(s).calls.get("livekit.Egress/StopEgress"), 2);
    assertProblem(await call(s, "POST", path("start"), { token: f.doctor.token }), 409, "VID_001");
  });

  await t.step("egress_ended webhooks leave the stored state as it is", async () => {
    await standIn(s).settled();
    const rows = await ownerQuery<{ status: string; stop_reason: string }>(
      s,
      "select status, stop_reason from public.consultation_recordings where consultation_id = $1 order by started_at",
      [f.id],
    );
    assertEquals(rows, [
      { status: "ended", stop_reason: "stopped" },
      { status: "ended", stop_reason: "consent_revoked" },
    ]);
  });
});

// ---------------------------------------------------------------------------
// The livekit-webhook function
// ---------------------------------------------------------------------------

async function signed(body: string, apiKey: string, apiSecret: string): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)));
  const token = new AccessToken(apiKey, apiSecret);
  token.sha256 = btoa(String.fromCharCode(...hash));
  return await token.toJwt();
}

async function postWebhook(s: TestStack, body: string, authorization?: string) {
  const res = await fetch(`${s.origin}/functions/v1/livekit-webhook`, {
    method: "POST",
    headers: {
      "Content-Type": "application/webhook+json",
      ...(authorization ? { Authorization: authorization } : {}),
    },
    body,
  });
  return { status: res.status, body: await res.json() };
}

testBothDrivers(
  "video: the livekit-webhook verifies LiveKit's signature and applies each event once",
  async (t, s) => {
    const f = await fixture(s);
    expectStatus(await createRoom(s, f.doctor.token, f.id), 201);
    const { apiKey, apiSecret } = s.stack.config.livekit as { apiKey: string; apiSecret: string };
    const joined = (eventId: string) =>
      JSON.stringify({
        event: "participant_joined",
        id: eventId,
        createdAt: String(Math.floor(Date.now() / 1000)),
        room: { name: f.roomName, sid: "RM_test" },
        participant: { identity: f.patient.id, sid: "PA_test", state: "ACTIVE" },
      });
    const joins = async () =>
      (await ownerQuery<{ joins: number }>(
        s,
        "select joins from public.video_participants where consultation_id = $1 and identity = $2",
        [f.id, f.patient.id],
      ))[0]?.joins ?? 0;
    const stored = async (eventId: string) =>
      (await ownerQuery<{ n: number }>(
        s,
        "select count(*)::int as n from private.livekit_webhook_events where id = $1",
        [eventId],
      ))[0].n;

    await t.step("a forged, tampered or unsigned webhook is 401 and stores nothing", async () => {
      const body = joined("EV_forged");
      const forged = await postWebhook(s, body, await signed(body, apiKey, "x".repeat(40)));
      assertEquals(forged.status, 401);
      const tampered = await postWebhook(s, body, await signed(joined("EV_other"), apiKey, apiSecret));
      assertEquals(tampered.status, 401);
      assertEquals((await postWebhook(s, body)).status, 401);
      assertEquals((await postWebhook(s, body, `Bearer ${f.doctor.token}`)).status, 401);
      assertEquals(await stored("EV_forged"), 0);
      assertEquals(await joins(), 0);
    });

    await t.step("a valid one updates the state once, even when delivered twice (a replay)", async () => {
      const body = joined("EV_once");
      const authorization = await signed(body, apiKey, apiSecret);
      const first = await postWebhook(s, body, authorization);
      assertEquals(first.status, 200);
      assertEquals(first.body.duplicate, false);
      const replay = await postWebhook(s, body, authorization);
      assertEquals(replay.status, 200);
      assertEquals(replay.body.duplicate, true);
      assertEquals(await stored("EV_once"), 1);
      assertEquals(await joins(), 1);
    });

    await t.step(
      "participant_left and room_finished, sent by the stand-in (the real SDK deletes the room)",
      async () => {
        const left = JSON.stringify({
          event: "participant_left",
          id: "EV_left",
          createdAt: String(Math.floor(Date.now() / 1000)),
          room: { name: f.roomName },
          participant: { identity: f.patient.id },
        });
        assertEquals((await postWebhook(s, left, await signed(left, apiKey, apiSecret))).status, 200);
        const rooms = new RoomServiceClient(s.origin, apiKey, apiSecret);
        await rooms.deleteRoom(f.roomName);
        await standIn(s).settled();
        const [room] = await ownerQuery<{ finished: boolean }>(
          s,
          "select finished_at is not null as finished from public.video_rooms where consultation_id = $1",
          [f.id],
        );
        assertEquals(room.finished, true);
        const [participant] = await ownerQuery<{ left: boolean; joins: number }>(
          s,
          "select left_at is not null as left, joins from public.video_participants where consultation_id = $1",
          [f.id],
        );
        assertEquals(participant, { left: true, joins: 1 });
        const stats = await call(s, "GET", `/v1/rooms/${f.roomName}/stats`, { token: f.doctor.token });
        assertProblem(stats, 404, "RES_001");
      },
    );

    await t.step("the stand-in refuses a call without the right grant, as LiveKit does", async () => {
      const token = new AccessToken(apiKey, apiSecret);
      token.addGrant({ roomList: true });
      const res = await fetch(`${s.origin}/twirp/livekit.RoomService/CreateRoom`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${await token.toJwt()}` },
        body: JSON.stringify({ name: "x" }),
      });
      assertEquals(res.status, 403);
      assertEquals((await res.json()).code, "permission_denied");
      const unsigned = await fetch(`${s.origin}/twirp/livekit.RoomService/ListRooms`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      assertEquals(unsigned.status, 401);
      assertEquals((await unsigned.json()).code, "unauthenticated");
    });
  },
);

// ---------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------

testBothDrivers("video: health reports LiveKit configured and reachable", async (_t, s) => {
  const res = await call(s, "GET", "/health");
  expectStatus(res, 200);
  assertEquals(res.body.status, "ok");
  assertEquals(res.body.livekit.configured, true);
  assertEquals(res.body.livekit.reachable, true);
});

Deno.test({
  name: "video: health is degraded (still 200) when only LiveKit is down",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const s = await startTestStack("pglite", { env: { LIVEKIT_URL: "http://127.0.0.1:9" } });
    try {
      const res = await call(s, "GET", "/health");
      expectStatus(res, 200);
      assertEquals(res.body.status, "degraded");
      assertEquals(res.body.database.status, "up");
      assertEquals(res.body.livekit, { configured: true, reachable: false });
      assertEquals(s.stack.livekit, undefined);
    } finally {
      await s.close();
    }
  },
});
