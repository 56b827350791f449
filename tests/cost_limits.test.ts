/**
 * The endpoints that cost the clinic money (issue 15, item 4), over real
 * HTTP on PGlite and on PostgreSQL, against the OpenAI and Twilio stand-ins
 * (supabase/local/openai, supabase/local/twilio) through the real SDKs:
 * bursts sent with Promise.all, and what reached the stand-ins counted.
 *
 * - POST /v1/openai/message: per user (OPENAI_USER_RATE_LIMIT); past it 429
 *   RATE_001 with Retry-After, the message not stored, the model not called.
 * - The clinic's daily budget of model calls (OPENAI_DAILY_BUDGET), spent by
 *   every call: past it the REST endpoint answers 429 with Retry-After to the
 *   clinic's next midnight, and the WhatsApp assistant its apology, neither
 *   calling OpenAI. The next day the budget is whole again.
 * - POST /v1/twilio/whatsapp/send: per sender and per recipient.
 */
import { assertProblem } from "./helpers/assertions.ts";
import { registerPatient } from "./helpers/clinic.ts";
import { assert, assertEquals } from "./helpers/std.ts";
import { call, createUser, testBothDrivers, type TestStack, type TestUser } from "./helpers/stack.ts";
import { replyNumber, sendInbound, sentTo } from "./helpers/whatsapp.ts";
import { APOLOGY } from "../shared/modules/ai-conversations/ai-conversations.assistant.ts";
import { STAND_IN_GREETING } from "../supabase/local/openai/server.ts";

// "Hola" is answered in one model call (no tool round): calls at the stand-in = messages answered.
const ask = (s: TestStack, doctor: TestUser) =>
  call(s, "POST", "/v1/openai/message", {
    token: doctor.token,
    body: { phone: doctor.phone, message: "Hola" },
  });

const storedUserMessages = async (s: TestStack, doctor: TestUser) =>
  (await s.stack.deps.db.queryAsOwner<{ n: number }>(
    `select count(*)::int as n from public.ai_messages m join public.ai_conversations c on c.id = m.conversation_id
      where c.doctor_id = $1 and m.role = 'user'`,
    [doctor.id],
  ))[0].n;

const secondsToClinicMidnight = async (s: TestStack) =>
  (await s.stack.deps.db.queryAsOwner<{ n: number }>(
    `select extract(epoch from (
       (date_trunc('day', now() at time zone app.clinic_time_zone()) + interval '1 day')
         at time zone app.clinic_time_zone() - now()))::int as n`,
  ))[0].n;

testBothDrivers(
  "cost limits: 41 parallel assistant messages from one doctor, only 5 reach OpenAI; others still get theirs",
  async (_t, s) => {
    const doctor = await createUser(s, "doctor");
    const otherDoctor = await createUser(s, "doctor");
    const openai = s.stack.openai!;

    const burst = await Promise.all(Array.from({ length: 41 }, () => ask(s, doctor)));
    const answered = burst.filter((r) => r.status === 200);
    const refused = burst.filter((r) => r.status !== 200);
    assertEquals(answered.length, 5, burst.map((r) => r.status).join(","));
    assertEquals(openai.requests.length, 5, "only the allowed messages reached OpenAI");
    for (const res of answered) assertEquals(res.body.data.response, STAND_IN_GREETING);
    for (const res of refused) {
      assertProblem(res, 429, "RATE_001");
      const retryAfter = Number(res.headers.get("Retry-After"));
      assert(retryAfter >= 1 && retryAfter <= 600, `Retry-After ${retryAfter}`);
    }
    assertEquals(await storedUserMessages(s, doctor), 5, "a refused message is not stored");

    // The limit is the caller's own: another doctor is answered.
    const other = await ask(s, otherDoctor);
    assertEquals(other.status, 200, JSON.stringify(other.body));
    assertEquals(openai.requests.length, 6);
  },
  { env: { OPENAI_USER_RATE_LIMIT: "5/600" } },
);

testBothDrivers(
  "cost limits: the clinic's daily budget of model calls holds under a burst, for REST and the WhatsApp assistant",
  async (t, s) => {
    const doctors = await Promise.all(Array.from({ length: 4 }, () => createUser(s, "doctor")));
    const openai = s.stack.openai!;

    await t.step(
      "a burst of 12 from 4 doctors: 3 model calls, then 429 to the clinic's next day",
      async () => {
        const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => ask(s, doctors[i % 4])));
        assertEquals(burst.filter((r) => r.status === 200).length, 3, burst.map((r) => r.status).join(","));
        assertEquals(openai.requests.length, 3, "past the budget, OpenAI is not called");
        const midnight = await secondsToClinicMidnight(s);
        for (const res of burst.filter((r) => r.status !== 200)) {
          assertProblem(res, 429, "RATE_001");
          const retryAfter = Number(res.headers.get("Retry-After"));
          assert(
            Math.abs(retryAfter - midnight) <= 5,
            `Retry-After ${retryAfter}, midnight in ${midnight} s`,
          );
        }
      },
    );

    await t.step("the WhatsApp assistant answers its apology without calling OpenAI", async () => {
      const res = await sendInbound(s, { from: doctors[0].phone, body: "Hola" });
      assertEquals(res.status, 200);
      assertEquals(await replyNumber(s, doctors[0].phone, 1), APOLOGY);
      assertEquals(openai.requests.length, 3);
    });

    await t.step("the next day (the counter's day moved back) the budget is whole again", async () => {
      await s.stack.deps.db.queryAsOwner(
        "update private.rate_limit_hits set window_start = window_start - interval '1 day'",
      );
      const res = await ask(s, doctors[1]);
      assertEquals(res.status, 200, JSON.stringify(res.body));
      assertEquals(openai.requests.length, 4);
      await sendInbound(s, { from: doctors[2].phone, body: "Hola" });
      assertEquals(await replyNumber(s, doctors[2].phone, 1), STAND_IN_GREETING);
      assertEquals(openai.requests.length, 5);
    });
  },
  { twilio: true, env: { OPENAI_DAILY_BUDGET: "3" } },
);

testBothDrivers(
  "cost limits: WhatsApp sends are limited per sender and per recipient, under parallel bursts",
  async (t, s) => {
    const doctor = await createUser(s, "doctor");
    const admin = await createUser(s, "admin");
    const patient = await registerPatient(s, doctor);
    const otherPatients = await Promise.all(Array.from({ length: 4 }, () => registerPatient(s, doctor)));
    const send = (sender: TestUser, phone: string) =>
      call(s, "POST", "/v1/twilio/whatsapp/send", {
        token: sender.token,
        body: { to: `whatsapp:${phone}`, body: "Recuerde su turno" },
      });

    await t.step("200 parallel sends to one patient: 3 reach Twilio, the rest 429 RATE_001", async () => {
      const burst = await Promise.all(Array.from({ length: 200 }, () => send(doctor, patient.phone)));
      assertEquals(burst.filter((r) => r.status === 200).length, 3, burst.map((r) => r.status).join(","));
      assertEquals(sentTo(s, patient.phone).length, 3);
      // Past the pool's queue a request is refused at once (503 SRV_003, see Faults); every other is the limit's.
      const refused = burst.filter((r) => r.status !== 200);
      const limited = refused.filter((r) => r.status === 429);
      assert(limited.length > 0, "the limit refused none");
      for (const res of refused) {
        if (res.status === 503) assertProblem(res, 503, "SRV_003");
        else assertProblem(res, 429, "RATE_001");
        const retryAfter = Number(res.headers.get("Retry-After"));
        assert(retryAfter >= 1 && retryAfter <= 3600, `Retry-After ${retryAfter}`);
      }
    });

    await t.step("the recipient's limit holds for every sender; other recipients are reached", async () => {
      assertProblem(await send(admin, patient.phone), 429, "RATE_001");
      assertEquals(sentTo(s, patient.phone).length, 3);
      const res = await send(admin, otherPatients[0].phone);
      assertEquals(res.status, 200, JSON.stringify(res.body));
    });

    await t.step("the sender's limit: 5 in the window, whoever the recipients", async () => {
      // The doctor has sent 3; 8 parallel sends to 4 other patients let 2 more through.
      const burst = await Promise.all(
        otherPatients.flatMap((p) => [send(doctor, p.phone), send(doctor, p.phone)]),
      );
      assertEquals(burst.filter((r) => r.status === 200).length, 2, burst.map((r) => r.status).join(","));
      for (const res of burst.filter((r) => r.status !== 200)) assertProblem(res, 429, "RATE_001");
      assertEquals(s.stack.twilio!.messages.length, 3 + 1 + 2);
    });

    await t.step("an unknown recipient is 404 and counts for no one", async () => {
      const counters = () =>
        s.stack.deps.db.queryAsOwner<{ key: string; hits: number }>(
          "select key, hits from private.rate_limit_hits order by key",
        );
      const before = await counters();
      assertProblem(await send(admin, "+5491199999999"), 404, "RES_001");
      assertEquals(await counters(), before);
    });
  },
  {
    twilio: true,
    env: { WHATSAPP_SEND_USER_RATE_LIMIT: "5/3600", WHATSAPP_SEND_RECIPIENT_RATE_LIMIT: "3/3600" },
  },
);
