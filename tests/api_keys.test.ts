/**
 * Publishable and secret API keys (`sb_publishable_…`, `sb_secret_…`) work
 * where the legacy anon and service_role keys do, as on a Supabase project
 * in 2026: supabase-js with the publishable key and a user's token on
 * Realtime and Storage (the user's row-level security decides), the secret
 * key on the service path (Storage, Realtime's broadcast API, the reminders
 * function), while an unknown key, a publishable key alone or a user's token
 * gets nowhere it should not. The gateway swaps a key for a JWT of its role,
 * signed with the project's current key: so every case runs in both modes,
 * ES256 signing keys and the legacy HS256 secret. On both drivers.
 */
import { createClient, type RealtimeChannel } from "@supabase/supabase-js";
import { insertedConsultation } from "./helpers/clinic.ts";
import { assert, assertEquals } from "./helpers/std.ts";
import { BUCKET, createTestBucket } from "./helpers/storage.ts";
import { realtimeToken, type StartOptions, testBothDrivers, type TestStack } from "./helpers/stack.ts";

const MODES: [string, StartOptions][] = [
  ["ES256 signing keys", {}],
  ["legacy HS256 secret", { env: { JWT_SECRET: "a-legacy-project-jwt-secret-of-48-characters-ok!" } }],
];
const NO_SESSION = { auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false } };

function clientWith(s: TestStack, key: string, token?: string) {
  return token ? createClient(s.origin, key, { accessToken: () => Promise.resolve(token) }) : createClient(
    s.origin,
    key,
    NO_SESSION,
  );
}

/** The first status `subscribe()` reports, and its error. */
function firstStatus(channel: RealtimeChannel): Promise<{ status: string; message?: string }> {
  return new Promise((resolve) => {
    let done = false;
    channel.subscribe((status, err) => {
      if (!done) resolve({ status, message: err?.message });
      done = true;
    });
  });
}

const reminders = (s: TestStack, headers: HeadersInit) =>
  fetch(`${s.origin}/functions/v1/reminders`, { method: "POST", headers }).then(async (res) => ({
    status: res.status,
    body: await res.json(),
  }));

for (const [mode, options] of MODES) {
  testBothDrivers(
    `API keys (${mode}): Storage with the publishable key and a user, or the secret key`,
    async (t, s) => {
      await createTestBucket(s);
      const c = await insertedConsultation(s);
      const path = `${c.id}/${crypto.randomUUID()}-notes.txt`;
      const bytes = new TextEncoder().encode("notas de la consulta\n".repeat(20));
      assert(s.stack.publishableKey.startsWith("sb_publishable_"));

      await t.step(
        "the patient, through supabase-js with the publishable key, uploads and downloads",
        async () => {
          const files = clientWith(s, s.stack.publishableKey, c.patient.token).storage.from(BUCKET);
          const signed = await files.createSignedUploadUrl(path);
          assertEquals(signed.error, null);
          const uploaded = await files.uploadToSignedUrl(
            path,
            signed.data!.token,
            new Blob([bytes], { type: "text/plain" }),
          );
          assertEquals(uploaded.error, null);
          const downloaded = await files.download(path);
          assertEquals(downloaded.error, null);
          assertEquals(new Uint8Array(await downloaded.data!.arrayBuffer()), bytes);
        },
      );

      await t.step("the publishable key alone (anon) does not see the file", async () => {
        const anon = await clientWith(s, s.stack.publishableKey).storage.from(BUCKET).download(path);
        assert(anon.error, "anon downloaded a consultation's file");
        assertEquals(anon.data, null);
      });

      await t.step("the secret key is the service path: it reads any file", async () => {
        const files = clientWith(s, s.stack.secretKey).storage.from(BUCKET);
        const downloaded = await files.download(path);
        assertEquals(downloaded.error, null);
        assertEquals(new Uint8Array(await downloaded.data!.arrayBuffer()), bytes);
      });

      await t.step("an unknown key, or the secret key from a browser, is 401 at the gateway", async () => {
        const info = `${s.origin}/storage/v1/object/info/${BUCKET}/${path}`;
        for (const key of ["sb_secret_not-this-project", "sb_publishable_not-this-project"]) {
          const res = await fetch(info, { headers: { apikey: key, Authorization: `Bearer ${key}` } });
          assertEquals([res.status, (await res.json()).message], [401, "Invalid API key"]);
        }
        const browser = await fetch(info, {
          headers: {
            apikey: s.stack.secretKey,
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
          },
        });
        assertEquals([browser.status, (await browser.json()).message], [
          401,
          "Forbidden use of secret API key in browser",
        ]);
        const server = await fetch(info, { headers: { apikey: s.stack.secretKey } });
        assertEquals(server.status, 200);
        await server.body?.cancel();
      });
    },
    options,
  );

  testBothDrivers(
    `API keys (${mode}): Realtime with the publishable key and a user, or the secret key`,
    async (t, s) => {
      const c = await insertedConsultation(s);
      const topic = `consultation:${c.id}`;
      const clients: ReturnType<typeof clientWith>[] = [];
      // A user's channels take the platform token of their session (POST /v1/auth/realtime-token).
      const client = async (key: string, token?: string) => {
        const made = clientWith(s, key, token ? await realtimeToken(s, token) : undefined);
        await made.realtime.setAuth();
        clients.push(made);
        return made;
      };
      try {
        await t.step("the patient joins the private channel (publishable key + their token)", async () => {
          const patient = await client(s.stack.publishableKey, c.patient.token);
          const joined = await firstStatus(patient.channel(topic, { config: { private: true } }));
          assertEquals(joined.status, "SUBSCRIBED", joined.message);
        });

        await t.step("the publishable key alone (anon) is refused the private channel", async () => {
          const anon = await client(s.stack.publishableKey);
          const refused = await firstStatus(anon.channel(topic, { config: { private: true } }));
          assertEquals(refused.status, "CHANNEL_ERROR");
          assert(refused.message?.includes("Unauthorized"), refused.message);
        });

        await t.step("a socket with an unknown publishable key is refused at connection", async () => {
          const url = `${
            s.origin.replace("http", "ws")
          }/realtime/v1/websocket?vsn=2.0.0&apikey=sb_publishable_nope`;
          const socket = new WebSocket(url);
          const outcome = await new Promise<string>((resolve) => {
            socket.onopen = () => resolve("open");
            socket.onerror = () => resolve("refused");
          });
          if (outcome === "open") socket.close();
          assertEquals(outcome, "refused");
        });

        await t.step("the broadcast API takes the secret key, and refuses an unknown one", async () => {
          const send = (key: string) =>
            fetch(`${s.origin}/realtime/v1/api/broadcast`, {
              method: "POST",
              headers: { apikey: key, "Content-Type": "application/json" },
              body: JSON.stringify({ messages: [{ topic, event: "ping", payload: {}, private: true }] }),
            });
          const accepted = await send(s.stack.secretKey);
          assertEquals(accepted.status, 202, await accepted.text());
          const refused = await send("sb_secret_not-this-project");
          assertEquals(refused.status, 401);
          await refused.body?.cancel();
        });
      } finally {
        await Promise.all(clients.map((made) => made.removeAllChannels().catch(() => {})));
      }
    },
    options,
  );

  testBothDrivers(`API keys (${mode}): the reminders function takes the secret key only`, async (t, s) => {
    const c = await insertedConsultation(s);

    await t.step("the secret key in apikey (pg_net), or as the bearer (supabase-js): 200", async () => {
      for (
        const headers of [
          { apikey: s.stack.secretKey },
          { Authorization: `Bearer ${s.stack.secretKey}` },
        ] as Record<string, string>[]
      ) {
        const res = await reminders(s, headers);
        assertEquals(res.status, 200, JSON.stringify(res.body));
        assertEquals(typeof res.body.sent, "number");
      }
    });

    await t.step("the legacy service_role key still works", async () => {
      assertEquals((await reminders(s, { Authorization: `Bearer ${s.stack.serviceRoleKey}` })).status, 200);
    });

    await t.step("the publishable key, the anon key, a user's token or another secret key: 401", async () => {
      for (
        const headers of [
          { apikey: s.stack.publishableKey },
          { Authorization: `Bearer ${s.stack.anonKey}` },
          { Authorization: `Bearer ${c.admin.token}` },
          { apikey: "sb_secret_not-this-project" },
          { apikey: `${s.stack.secretKey}x` },
          {},
        ] as Record<string, string>[]
      ) {
        const res = await reminders(s, headers);
        assertEquals([res.status, res.body.code], [401, "AUTH_001"], JSON.stringify(headers));
      }
    });
  }, options);
}
