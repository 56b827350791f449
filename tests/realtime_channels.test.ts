/**
 * One supabase-js client on several private channels at once (issue #20), as
 * a frontend holds them: the patient's single client joins
 * `consultation:{id}`, `conversation:{id}` and `user:{userId}` and hears a
 * server event on each. On PGlite and on PostgreSQL.
 *
 * What is real and what is a stand-in: the API, the database (RLS,
 * realtime.send) and supabase-js 2.119.1 are the real ones; Realtime is the
 * local stand-in (supabase/local/realtime/).
 *
 * Why `await supabase.realtime.setAuth()` before the first subscribe:
 * realtime-js builds a channel's join payload when `subscribe()` is called,
 * with the token it holds at that moment. Right after `createClient` the
 * `accessToken` callback has not resolved yet, so the first join goes out
 * without `access_token`; Realtime then authorizes it with the socket's
 * `apikey` (the publishable key, role anon) and a private channel refuses
 * it. The first step below shows that refusal, so the advice stays true.
 *
 * Why the `accessToken` option and not a bare `setAuth(token)`: supabase-js
 * always gives realtime-js an accessToken callback of its own (the auth
 * session, else the publishable key); after a join, on connect and on each
 * heartbeat realtime-js asks it again, so the token set by hand is replaced
 * by the publishable key and the next private join is refused (second step).
 */
import { createClient, type RealtimeChannel } from "@supabase/supabase-js";
import { heard, platformClient, platformTokenSource, subscribe } from "./helpers/realtime.ts";
import { consultationFixture, openConsultation } from "./helpers/consultations.ts";
import { assertEquals } from "./helpers/std.ts";
import { call, testBothDrivers } from "./helpers/stack.ts";
import { eventually } from "./helpers/wait.ts";

// deno-lint-ignore no-explicit-any
type Payload = any;

function expectStatus(res: { status: number; body: Payload }, status: number) {
  assertEquals(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
}

/** Noon on a weekday in Buenos Aires: inside the chat's hours. */
const CHAT_NOW = "2026-11-24T15:00:00Z";

testBothDrivers(
  "realtime channels: one supabase-js client hears its consultation, its conversation and its own topic",
  async (t, s) => {
    const f = await consultationFixture(s);
    const consultationId = await openConsultation(s, f);
    const conversation = await call(s, "POST", "/v1/chat/conversations", {
      token: f.doctor.token,
      body: { type: "direct", participants: [f.patient.id] },
    });
    expectStatus(conversation, 201);
    const conversationId: string = conversation.body.data.id;
    const topics = {
      consultation: `consultation:${consultationId}`,
      conversation: `conversation:${conversationId}`,
      user: `user:${f.patient.id}`,
    };

    await t.step(
      "a subscribe right after createClient, before the first accessToken resolves, joins without a token: refused",
      async () => {
        const hasty = createClient(s.origin, s.stack.anonKey, {
          accessToken: platformTokenSource(s, f.patient.token),
        });
        try {
          const first = await subscribe(hasty.channel(topics.user, { config: { private: true } }));
          assertEquals(first.status, "CHANNEL_ERROR");
        } finally {
          await hasty.removeAllChannels();
        }
      },
    );

    await t.step(
      "the old way, setAuth(token) without accessToken: the first join succeeds, the next is refused",
      async () => {
        const old = createClient(s.origin, s.stack.anonKey);
        try {
          await old.realtime.setAuth(await platformTokenSource(s, f.patient.token)());
          assertEquals(
            (await subscribe(old.channel(topics.user, { config: { private: true } }))).status,
            "SUBSCRIBED",
          );
          // After a join supabase-js asks its own (empty) auth session again and gets the publishable key.
          await eventually(
            "the token replaced by the publishable key",
            () => old.realtime.accessTokenValue === s.stack.anonKey || undefined,
          );
          const second = await subscribe(old.channel(topics.conversation, { config: { private: true } }));
          assertEquals(second.status, "CHANNEL_ERROR");
        } finally {
          await old.removeAllChannels();
        }
      },
    );

    const client = await platformClient(s, f.patient.token); // setAuth() once, then subscribe
    try {
      const channels: Record<keyof typeof topics, RealtimeChannel> = {
        consultation: client.channel(topics.consultation, { config: { private: true } }),
        conversation: client.channel(topics.conversation, { config: { private: true } }),
        user: client.channel(topics.user, { config: { private: true } }),
      };
      const seen = {
        consultation: heard(channels.consultation),
        conversation: heard(channels.conversation),
        user: heard(channels.user),
      };
      const find = (on: keyof typeof topics, event: string, match: (p: Payload) => boolean = () => true) =>
        eventually(
          `${event} on ${on}`,
          () => seen[on].find((e) => e.event === event && match(e.payload))?.payload,
        );

      await t.step("after setAuth() the same client joins all three private channels", async () => {
        for (const channel of Object.values(channels)) {
          assertEquals((await subscribe(channel)).status, "SUBSCRIBED", channel.topic);
        }
        assertEquals(client.realtime.getChannels().length, 3);
      });

      await t.step(
        "the patient checks in, the doctor starts: consultation_started on user:{id}",
        async () => {
          expectStatus(
            await call(s, "POST", `/v1/consultations/${consultationId}/check-in`, { token: f.patient.token }),
            200,
          );
          expectStatus(
            await call(s, "POST", `/v1/consultations/${consultationId}/start`, { token: f.doctor.token }),
            200,
          );
          assertEquals((await find("user", "consultation_started")).consultationId, consultationId);
        },
      );

      await t.step("the doctor writes: new_message on conversation:{id}", async () => {
        const sent = await call(s, "POST", `/v1/chat/conversations/${conversationId}/messages`, {
          token: f.doctor.token,
          body: { content: "Hola Pablo" },
        });
        expectStatus(sent, 201);
        const event = await find(
          "conversation",
          "new_message",
          (p) => p.messageId === sent.body.data.message.id,
        );
        assertEquals(event.conversationId, conversationId);
      });

      await t.step("the doctor closes the visit: consultation.closed on consultation:{id}", async () => {
        const closed = await call(s, "POST", `/v1/consultations/${consultationId}/close`, {
          token: f.doctor.token,
        });
        expectStatus(closed, 200);
        await find("consultation", "consultation.closed");
        assertEquals(seen.consultation.filter((e) => e.event === "consultation.closed").length, 1);
      });
    } finally {
      await client.removeAllChannels();
    }
  },
  { clock: () => new Date(Date.parse(CHAT_NOW) + (Date.now() % 3_600_000)) },
);
