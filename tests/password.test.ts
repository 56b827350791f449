/**
 * Password hashing: Argon2id (hash-wasm) run on a worker thread, so that a
 * sign-in does not stall the other requests; no database involved.
 */
import { runArgon2 } from "../shared/auth/argon2.ts";
import { runArgon2OffThread } from "../shared/auth/argon2-thread.ts";
import { hashPassword, verifyAgainstNothing, verifyPassword } from "../shared/auth/password.ts";
import { assert, assertEquals } from "./helpers/std.ts";

Deno.test("password: Argon2id off the event loop, interchangeable with this thread's", async (t) => {
  const salt = () => crypto.getRandomValues(new Uint8Array(16));

  await t.step("a hash verifies with its password only; a malformed hash verifies nothing", async () => {
    const encoded = await hashPassword("correct horse battery");
    assert(encoded.startsWith("$argon2id$v=19$m=19456,t=2,p=1$"), "OWASP's Argon2id parameters");
    assertEquals(await verifyPassword("correct horse battery", encoded), true);
    assertEquals(await verifyPassword("correct horse batterY", encoded), false);
    assertEquals(await verifyPassword("correct horse battery", "not-a-hash"), false);
    assertEquals(await verifyAgainstNothing("correct horse battery"), false);
  });

  await t.step("the work runs on a worker thread, not the one that serves requests", async () => {
    const answer = await runArgon2OffThread({ op: "hash", password: "x", salt: salt() });
    assert(answer.threadId !== 0, `ran on thread ${answer.threadId}`);
  });

  await t.step("hashes made here verify there and the other way round", async () => {
    const here = await runArgon2({ op: "hash", password: "uno", salt: salt() }) as string;
    const there = (await runArgon2OffThread({ op: "hash", password: "dos", salt: salt() })).result as string;
    assertEquals((await runArgon2OffThread({ op: "verify", password: "uno", encoded: here })).result, true);
    assertEquals(await runArgon2({ op: "verify", password: "dos", encoded: there }), true);
    assertEquals(await runArgon2({ op: "verify", password: "uno", encoded: there }), false);
  });

  await t.step("jobs sent together each get their own answer", async () => {
    const passwords = ["a1", "b2", "c3", "d4"];
    const hashes = await Promise.all(passwords.map((p) => hashPassword(p)));
    const checks = await Promise.all(
      hashes.flatMap((h) => passwords.map((p) => verifyPassword(p, h))),
    );
    const expected = hashes.flatMap((_, i) => passwords.map((_, j) => i === j));
    assertEquals(checks, expected);
  });
});
