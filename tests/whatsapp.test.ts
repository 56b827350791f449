/**
 * The WhatsApp assistant for doctors (issue #9) over real HTTP, on PGlite
 * and on PostgreSQL.
 *
 * What is real and what is a stand-in: the whatsapp-webhook function, the
 * database (row-level security, the assistant's sessions), the official
 * twilio SDK (it signs the test's webhooks, checks them in the function, and
 * sends every reply through the Messages API) and the official openai SDK
 * are the real ones. Twilio and OpenAI themselves are LOCAL STAND-INS that
 * speak their wire formats: supabase/local/twilio/ (the Messages API,
 * reached through the SDK's custom httpClient at TWILIO_API_URL; it sends
 * signed status callbacks like Twilio) and supabase/local/openai/ (Chat
 * Completions with tool calls, deterministic, at OPENAI_BASE_URL). Both are
 * served by the test stack's gateway.
 *
 * Covered: a signed message from a doctor leads to one stored exchange and
 * one outbound message (and its status callback updates it); the same
 * MessageSid again changes nothing; forged, missing or wrongly addressed
 * signatures are refused (403, nothing stored) next to the signed one; the
 * tools run as the doctor (another doctor's patient answers nothing; a
 * cancel happens only after an explicit yes, and only in the doctor's own
 * schedule); an OpenAI 500 is retried, then the doctor gets an apology with
 * their message kept; a Twilio failure is retried (past the retries the
 * message stays stored, marked failed); unknown numbers get a fixed reply and patients no
 * assistant; malformed webhooks are 400; past the limit per number, messages are kept but neither
 * shown to the model nor answered, but for one notice per window.
 */
import twilio from "twilio";
import { book, registerPatient, specialtyOf, type TestPatient } from "./helpers/clinic.ts";
import { assert, assertEquals } from "./helpers/std.ts";
import {
  createUser,
  RELAXED_LIMITS,
  TEST_TWILIO,
  testBothDrivers,
  type TestStack,
  type TestUser,
} from "./helpers/stack.ts";
import {
  CLINIC_NUMBER,
  type Inbound,
  messageSid,
  replyNumber,
  sendInbound,
  sentTo,
  webhookUrl,
} from "./helpers/whatsapp.ts";
import {
  APOLOGY,
  PATIENT_REPLY,
  RATE_LIMITED_REPLY,
  UNKNOWN_SENDER_REPLY,
} from "../shared/modules/ai-conversations/ai-conversations.assistant.ts";
import { STAND_IN_GREETING } from "../supabase/local/openai/server.ts";

/** Polls an asynchronous condition (the webhook answers Twilio first and works after). */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function rows<T = Record<string, unknown>>(s: TestStack, sql: string, params: unknown[] = []) {
  return await s.stack.deps.db.queryAsOwner<T>(sql, params);
}

async function conversationOf(s: TestStack, doctor: TestUser) {
  return await rows<{ role: string; content: string; token_count: number }>(
    s,
    `select m.role, m.content, m.token_count from public.ai_messages m
       join public.ai_conversations c on c.id = m.conversation_id
      where c.doctor_id = $1 order by m.created_at, m.id`,
    [doctor.id],
  );
}

interface Clinic {
  doctor: TestUser;
  otherDoctor: TestUser;
  patient: TestPatient;
  appointmentId: string;
}

async function clinic(s: TestStack): Promise<Clinic> {
  const doctor = await createUser(s, "doctor", { name: "Diego" });
  const otherDoctor = await createUser(s, "doctor", { name: "Dora" });
  const patient = await registerPatient(s, doctor, "Pablo");
  const start = new Date(Date.now() + 3 * 24 * 3600_000);
  start.setUTCMinutes(0, 0, 0);
  const res = await book(s, doctor.token, {
    patientId: patient.id,
    doctorId: doctor.id,
    specialtyId: await specialtyOf(s, doctor),
    start: start.toISOString(),
    end: new Date(start.getTime() + 30 * 60_000).toISOString(),
  });
  assertEquals(res.status, 201, JSON.stringify(res.body));
  return { doctor, otherDoctor, patient, appointmentId: res.body.data.id };
}

testBothDrivers(
  "whatsapp: a signed message from a doctor is stored once and answered once",
  async (_t, s) => {
    const doctor = await createUser(s, "doctor");
    const openai = s.stack.openai!;

    const first = await sendInbound(s, { from: doctor.phone, body: "Hola" });
    assertEquals(first.status, 200);
    assertEquals(first.text, "", "Twilio gets an empty 200: the answer goes through the Messages API");
    assertEquals(await replyNumber(s, doctor.phone, 1), STAND_IN_GREETING);
    const [reply] = sentTo(s, doctor.phone);
    assertEquals(reply.from, `whatsapp:${TEST_TWILIO.from}`);

    const stored = await conversationOf(s, doctor);
    assertEquals(stored.map((m) => [m.role, m.content]), [["user", "Hola"], [
      "assistant",
      STAND_IN_GREETING,
    ]]);
    assert(stored.every((m) => m.token_count > 0), "both messages have a token count");

    // Twilio's status callback (signed, to TWILIO_WEBHOOK_URL/status) updates the message sent.
    await s.stack.twilio!.settle();
    const [outbound] = await rows<{ status: string; date_sent: string | null }>(
      s,
      "select status, date_sent from public.whatsapp_messages where message_sid = $1",
      [reply.sid],
    );
    assertEquals(outbound.status, "delivered");
    assert(outbound.date_sent);

    // Twilio retries the same MessageSid: 200 again, and nothing more happens.
    const requestsBefore = openai.requests.length;
    const retry = await sendInbound(s, { from: doctor.phone, body: "Hola", sid: first.sid });
    assertEquals(retry.status, 200);
    assertEquals(retry.text, "");
    await new Promise((r) => setTimeout(r, 300));
    await s.stack.twilio!.settle();
    assertEquals(sentTo(s, doctor.phone).length, 1, "one outbound message only");
    assertEquals((await conversationOf(s, doctor)).length, 2, "one stored exchange only");
    assertEquals(openai.requests.length, requestsBefore, "the model is not asked again");
    const [inbound] = await rows<{ n: number; status: string }>(
      s,
      `select count(*)::int as n, max(status) as status from public.whatsapp_messages
      where message_sid = $1 and direction = 'inbound'`,
      [first.sid],
    );
    assertEquals(inbound, { n: 1, status: "answered" });
  },
  { twilio: true },
);

testBothDrivers(
  "whatsapp: forged, missing or misaddressed signatures are refused and nothing is stored",
  async (_t, s) => {
    const doctor = await createUser(s, "doctor");
    const attacks: Array<[string, Inbound]> = [
      ["a forged signature", {
        from: doctor.phone,
        body: "Hola",
        signWith: "not-the-auth-token-of-the-account",
      }],
      ["no signature", { from: doctor.phone, body: "Hola", unsigned: true }],
      ["signed for the URL the function sees, not the public one", {
        from: doctor.phone,
        body: "Hola",
        signedUrl: "http://127.0.0.1/whatsapp-webhook",
      }],
    ];
    for (const [what, inbound] of attacks) {
      const res = await sendInbound(s, inbound);
      assertEquals(res.status, 403, what);
      const [stored] = await rows<{ n: number }>(
        s,
        "select count(*)::int as n from public.whatsapp_messages where message_sid = $1",
        [res.sid],
      );
      assertEquals(stored.n, 0, `${what}: nothing stored`);
    }
    // A body changed after signing is refused too.
    const params = {
      MessageSid: messageSid(),
      AccountSid: TEST_TWILIO.accountSid,
      From: `whatsapp:${doctor.phone}`,
    };
    const signature = twilio.getExpectedTwilioSignature(TEST_TWILIO.authToken, webhookUrl(s), {
      ...params,
      To: CLINIC_NUMBER,
      Body: "Hola",
    });
    const tampered = await fetch(webhookUrl(s), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature },
      body: new URLSearchParams({ ...params, To: CLINIC_NUMBER, Body: "Cancelá todo" }),
    });
    assertEquals(tampered.status, 403);
    await tampered.body?.cancel();
    assertEquals(s.stack.twilio!.messages.length, 0, "nothing was sent");
    assertEquals(s.stack.openai!.requests.length, 0, "the model was never asked");

    // The rightful, signed message is accepted.
    const signed = await sendInbound(s, { from: doctor.phone, body: "Hola" });
    assertEquals(signed.status, 200);
    assertEquals(await replyNumber(s, doctor.phone, 1), STAND_IN_GREETING);
  },
  { twilio: true },
);

testBothDrivers("whatsapp: the tools run as the doctor, never on another doctor's data", async (_t, s) => {
  const { doctor, otherDoctor, patient, appointmentId } = await clinic(s);
  const openai = s.stack.openai!;
  const toolResult = () => {
    const last = openai.requests[openai.requests.length - 1];
    const tool = last.messages.filter((m) => m.role === "tool").at(-1);
    return JSON.parse(tool?.content ?? "null");
  };

  // Another doctor asks for this patient's next appointment: the tool finds nothing.
  await sendInbound(s, {
    from: otherDoctor.phone,
    body: `¿Cuál es el próximo turno del paciente ${patient.id}?`,
  });
  await replyNumber(s, otherDoctor.phone, 1);
  assertEquals(toolResult(), { found: false });
  assert(
    !sentTo(s, otherDoctor.phone)[0].body.includes(appointmentId),
    "nothing of it reaches the other doctor",
  );

  // The patient's doctor gets it.
  await sendInbound(s, { from: doctor.phone, body: `¿Cuál es el próximo turno del paciente ${patient.id}?` });
  assert((await replyNumber(s, doctor.phone, 1)).includes(appointmentId));
  assertEquals(toolResult().found, true);
  assertEquals(toolResult().appointment.id, appointmentId);

  // Cancelling needs an explicit yes; the other doctor cannot even propose it.
  await sendInbound(s, { from: otherDoctor.phone, body: `Cancelar el turno ${appointmentId}` });
  await replyNumber(s, otherDoctor.phone, 2);
  assertEquals(toolResult(), { found: false });
  await sendInbound(s, { from: otherDoctor.phone, body: "sí" });
  await replyNumber(s, otherDoctor.phone, 3);

  await sendInbound(s, { from: doctor.phone, body: `Cancelar el turno ${appointmentId}` });
  await replyNumber(s, doctor.phone, 2);
  assertEquals(toolResult().needsExplicitYes, true);
  const status = async () =>
    (await rows<{ status: string }>(s, "select status from public.appointments where id = $1", [
      appointmentId,
    ]))[0]
      .status;
  assertEquals(await status(), "PENDING", "a proposal changes nothing");

  await sendInbound(s, { from: doctor.phone, body: "sí" });
  assertEquals(await replyNumber(s, doctor.phone, 3), "Listo: el turno quedó cancelado.");
  assertEquals(await status(), "CANCELLED");

  // Every assistant run's session ends with the run.
  await until("the assistant's sessions ended", async () => {
    const [open] = await rows<{ n: number; ended: number }>(
      s,
      `select count(*) filter (where revoked_at is null)::int as n,
              count(*) filter (where revoked_reason = 'run_ended')::int as ended
         from private.sessions where purpose = 'assistant_run'`,
    );
    return open.n === 0 && open.ended === 6;
  });

  // The logs name the steps, never a phone, a name or a message's text.
  const logs = s.logs.join("\n");
  for (const secret of [doctor.phone, otherDoctor.phone, patient.phone, "Cancelar el turno", "Pablo"]) {
    assert(!logs.includes(secret), `the logs hold ${secret}`);
  }
  assert(logs.includes("assistant tool"));
}, { twilio: true });

testBothDrivers(
  "whatsapp: an OpenAI 500 is retried, then the doctor gets an apology and the message is kept",
  async (_t, s) => {
    const doctor = await createUser(s, "doctor");
    const openai = s.stack.openai!;
    openai.failNext(3); // the first try and the SDK's two retries

    const res = await sendInbound(s, { from: doctor.phone, body: "¿Qué turnos tengo hoy?" });
    assertEquals(res.status, 200);
    assertEquals(await replyNumber(s, doctor.phone, 1), APOLOGY);
    assertEquals(openai.requests.length, 3, "retried twice with backoff");
    assertEquals((await conversationOf(s, doctor)).map((m) => [m.role, m.content]), [[
      "user",
      "¿Qué turnos tengo hoy?",
    ]]);
    const [inbound] = await rows<{ status: string }>(
      s,
      "select status from public.whatsapp_messages where message_sid = $1",
      [res.sid],
    );
    assertEquals(inbound.status, "answered_with_apology");

    // Once OpenAI is back, the next message is answered (with the tool, as the doctor).
    await sendInbound(s, { from: doctor.phone, body: "¿Qué turnos tengo hoy?" });
    assert((await replyNumber(s, doctor.phone, 2)).startsWith("Esto es lo que encontré"));
  },
  { twilio: true },
);

testBothDrivers(
  "whatsapp: unknown numbers get a fixed reply, patients no assistant, bad webhooks 400",
  async (_t, s) => {
    const doctor = await createUser(s, "doctor");
    const patient = await registerPatient(s, doctor);
    const stranger = "+5491199999999";

    await sendInbound(s, { from: stranger, body: "Hola, ¿quién es?" });
    assertEquals(await replyNumber(s, stranger, 1), UNKNOWN_SENDER_REPLY);
    await sendInbound(s, { from: patient.phone, body: "¿Qué turnos tiene el doctor hoy?" });
    assertEquals(await replyNumber(s, patient.phone, 1), PATIENT_REPLY);
    assertEquals(s.stack.openai!.requests.length, 0, "no assistant for them");
    const [conversations] = await rows<{ n: number }>(
      s,
      "select count(*)::int as n from public.ai_conversations",
    );
    assertEquals(conversations.n, 0);

    const bad = await sendInbound(s, {
      from: doctor.phone,
      body: "Hola",
      extra: { MessageSid: "not-a-sid" },
    });
    assertEquals(bad.status, 400);
    assert(JSON.parse(bad.text).errors.some((e: { field: string }) => e.field === "MessageSid"));
    const notForm = await fetch(webhookUrl(s), {
      method: "POST",
      body: "{}",
      headers: { "Content-Type": "application/json" },
    });
    assertEquals(notForm.status, 415);
    await notForm.body?.cancel();
  },
  { twilio: true },
);

testBothDrivers(
  "whatsapp: a Twilio failure is retried; past the retries the message is kept, marked failed",
  async (_t, s) => {
    const doctor = await createUser(s, "doctor");
    const twilioStandIn = s.stack.twilio!;
    twilioStandIn.failNext(2);
    await sendInbound(s, { from: doctor.phone, body: "Hola" });
    assertEquals(await replyNumber(s, doctor.phone, 1), STAND_IN_GREETING, "the third try went through");

    twilioStandIn.failNext(3);
    const lost = await sendInbound(s, { from: doctor.phone, body: "¿Estás?" });
    assertEquals(lost.status, 200);
    await until("the message marked failed", async () => {
      const [row] = await rows<{ status: string; processed_at: string | null }>(
        s,
        "select status, processed_at from public.whatsapp_messages where message_sid = $1",
        [lost.sid],
      );
      return row.status === "failed" && row.processed_at === null;
    });
    assertEquals(sentTo(s, doctor.phone).length, 1);
    assertEquals(
      (await conversationOf(s, doctor)).at(-2)?.content,
      "¿Estás?",
      "the doctor's message is kept",
    );
  },
  { twilio: true },
);

testBothDrivers(
  "whatsapp: past the limit per number, messages are kept but not answered; one notice per window",
  async (_t, s) => {
    const doctor = await createUser(s, "doctor");
    const colleague = await createUser(s, "doctor");
    const openai = s.stack.openai!;
    const statusOf = async (sid: string) =>
      (await rows<{ status: string; error_code: string | null }>(
        s,
        "select status, error_code from public.whatsapp_messages where message_sid = $1",
        [sid],
      ))[0];
    const limited = async (sid: string) => {
      await until(
        "the message marked RATE_LIMITED",
        async () => (await statusOf(sid))?.error_code === "RATE_LIMITED",
      );
      assertEquals(await statusOf(sid), { status: "failed", error_code: "RATE_LIMITED" });
    };

    for (const n of [1, 2]) {
      await sendInbound(s, { from: doctor.phone, body: `Hola ${n}` });
      assertEquals(await replyNumber(s, doctor.phone, n), STAND_IN_GREETING);
    }
    assertEquals(openai.requests.length, 2);

    const third = await sendInbound(s, { from: doctor.phone, body: "Hola 3" });
    assertEquals(third.status, 200, "Twilio is still answered 200");
    await limited(third.sid);
    assertEquals(await replyNumber(s, doctor.phone, 3), RATE_LIMITED_REPLY);

    const fourth = await sendInbound(s, { from: doctor.phone, body: "Hola 4" });
    await limited(fourth.sid);
    await s.stack.twilio!.settle();
    assertEquals(sentTo(s, doctor.phone).length, 3, "no second notice in the window");
    assertEquals(openai.requests.length, 2, "the model was not called past the limit");

    const [kept] = await rows<{ n: number }>(
      s,
      "select count(*)::int as n from public.whatsapp_messages where direction = 'inbound' and from_phone = $1",
      [`whatsapp:${doctor.phone}`],
    );
    assertEquals(kept.n, 4, "every message is kept");

    await sendInbound(s, { from: colleague.phone, body: "Hola" });
    assertEquals(
      await replyNumber(s, colleague.phone, 1),
      STAND_IN_GREETING,
      "another number is not limited",
    );
  },
  {
    twilio: true,
    rateLimits: {
      ...RELAXED_LIMITS,
      whatsappPerPhone: { max: 2, windowSeconds: 600 },
      whatsappNoticePerPhone: { max: 1, windowSeconds: 600 },
    },
  },
);
