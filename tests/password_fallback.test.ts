/**
 * Password hashing where no worker thread exists (Supabase's Edge Runtime;
 * forced here with ARGON2_THREAD=off): the hashes run on the thread that
 * serves requests, one at a time, their WebAssembly memory released after
 * each. Eight sign-ins at once all succeed, a request sent among them is
 * answered before they are all done, and the product (`task start`, a
 * process of its own) stays under 200 MiB: about one hash's memory, not eight.
 */
import { runArgon2OffThread } from "../shared/auth/argon2-thread.ts";
import { assert, assertEquals } from "./helpers/std.ts";
import { call, createUser, login, PG_URL, TEST_PASSWORD, testBothDrivers } from "./helpers/stack.ts";
import { loginStatus, productEnv, startProduct } from "./helpers/product.ts";

const SIGN_INS = 8;
const MiB = 2 ** 20;

testBothDrivers(
  "passwords without a worker thread: 8 sign-ins at once succeed on this thread, and other requests answer",
  async (t, s) => {
    const users = await Promise.all(Array.from({ length: SIGN_INS }, () => createUser(s, "patient")));

    await t.step("the hashing runs on the thread that serves requests", async () => {
      const salt = crypto.getRandomValues(new Uint8Array(16));
      const answer = await runArgon2OffThread({ op: "hash", password: "x", salt });
      assertEquals(answer.threadId, 0);
    });

    await t.step(
      "8 concurrent sign-ins succeed; a GET /v1/user/me sent among them answers first",
      async () => {
        let done = 0;
        const signIns = users.map((u) => login(s, u.phone, TEST_PASSWORD).finally(() => done++));
        const me = await call(s, "GET", "/v1/user/me", { token: users[0].token });
        const doneWhenAnswered = done;
        assertEquals(me.status, 200);
        assertEquals(me.body.data.id, users[0].id);
        const tokens = await Promise.all(signIns);
        assertEquals(new Set(tokens).size, SIGN_INS);
        assert(doneWhenAnswered < SIGN_INS, "GET /v1/user/me waited for every sign-in");
        for (const [i, token] of tokens.entries()) {
          const mine = await call(s, "GET", "/v1/user/me", { token });
          assertEquals(mine.body.data.id, users[i].id);
        }
      },
    );
  },
  { env: { ARGON2_THREAD: "off" } },
);

/** A process's resident memory now and at its peak (Linux's /proc). */
async function residentMemory(pid: number): Promise<{ now: number; peak: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;
  return { now: kib("VmRSS"), peak: kib("VmHWM") };
}

Deno.test({
  name:
    "passwords without a worker thread: the product stays under 200 MiB through 8 sign-ins at once [postgres]",
  ignore: !PG_URL || Deno.build.os !== "linux",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const product = await productEnv("postgres");
    const started = await startProduct({ ...product.env, ARGON2_THREAD: "off" }, "direct");
    try {
      const before = await residentMemory(started.pid);
      const { token } = await loginStatus(started.apiUrl, "+5491100000001");
      const phones = Array.from(
        { length: SIGN_INS },
        (_, i) => `+54911000000${String(1 + i % 5).padStart(2, "0")}`,
      );
      let done = 0;
      const signIns = phones.map((phone) => loginStatus(started.apiUrl, phone).finally(() => done++));
      const me = await fetch(`${started.apiUrl}/functions/v1/api/v1/user/me`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      const doneWhenAnswered = done;
      assertEquals(me.status, 200);
      await me.body?.cancel();
      assertEquals((await Promise.all(signIns)).map((r) => r.status), phones.map(() => 200));
      assert(doneWhenAnswered < SIGN_INS, "GET /v1/user/me waited for every sign-in");
      const after = await residentMemory(started.pid);
      console.log(
        `product RSS: ${(before.now / MiB).toFixed(0)} MiB before, peak ${(after.peak / MiB).toFixed(0)} MiB`,
      );
      assert(after.peak < 200 * MiB, `peak RSS ${(after.peak / MiB).toFixed(0)} MiB`);
    } finally {
      await started.stop();
      await product.cleanUp();
    }
  },
});
