/**
 * Crash safety: the product (`deno task start`, a process of its own) is
 * killed with SIGKILL in the middle of a stream of writes, then started
 * again on the same data: every write it acknowledged is there, and none is
 * there in part. On PGlite's data folder (the database dies with the
 * process) and on PostgreSQL (the server's connections are cut mid-transaction).
 *
 * Each write is a patient's registration: a user, their credentials, their
 * patient record and an audit event, in one transaction. A part without the
 * rest would show as a patient user without a patient record.
 */
import { assert, assertEquals } from "./helpers/std.ts";
import { PG_URL } from "./helpers/stack.ts";
import { loginStatus, productEnv, startProduct } from "./helpers/product.ts";

const WRITERS = 4;
const ACKNOWLEDGED_BEFORE_KILL = 40;

interface Written {
  acknowledged: Map<string, string>; // phone → patient id
  attempted: Set<string>; // phones
}

/** Registers patients from WRITERS clients until stopped; a refused connection ends a writer. */
function writeStream(apiUrl: string, token: string, run: string) {
  const written: Written = { acknowledged: new Map(), attempted: new Set() };
  let stopped = false;
  let counter = 0;
  const writer = async () => {
    while (!stopped) {
      const phone = `+54911${run}${String(counter++).padStart(4, "0")}`;
      written.attempted.add(phone);
      try {
        const res = await fetch(`${apiUrl}/functions/v1/api/v1/patients`, {
          method: "POST",
          headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
          body: JSON.stringify({
            name: "Crash",
            lastName: `Prueba ${counter}`,
            phone,
            email: `crash.${run}.${counter}@test.consultorio.dev`,
            password: "tortuga-azul-del-rio-1",
            address: "Calle Falsa 123",
            gender: "female",
            birthDate: "1990-05-15",
          }),
        });
        const body = await res.json();
        if (res.status === 201) written.acknowledged.set(phone, body.data.id);
      } catch {
        return; // the server is gone
      }
    }
  };
  const writers = Promise.all(Array.from({ length: WRITERS }, writer));
  return {
    written,
    stop: async () => {
      stopped = true;
      await writers;
    },
  };
}

/** Every page of a list endpoint. */
async function listAll(
  apiUrl: string,
  token: string,
  path: string,
): Promise<{ id: string; phone: string }[]> {
  const items: { id: string; phone: string }[] = [];
  let cursor: string | undefined;
  do {
    const query = new URLSearchParams({ limit: "200", ...(cursor ? { cursor } : {}) });
    const res = await fetch(`${apiUrl}/functions/v1/api${path}${path.includes("?") ? "&" : "?"}${query}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const body = await res.json();
    assertEquals(res.status, 200, JSON.stringify(body));
    items.push(...body.data);
    cursor = body.pageInfo?.nextCursor ?? undefined;
  } while (cursor);
  return items;
}

for (const driver of ["pglite", "postgres"] as const) {
  Deno.test({
    name:
      `crash safety: SIGKILL in a stream of writes loses no acknowledged write, leaves no partial one [${driver}]`,
    ignore: driver === "postgres" && !PG_URL,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn(t) {
      const product = await productEnv(driver);
      const run = String(Math.floor(Math.random() * 9000) + 1000);
      try {
        const first = await startProduct(product.env, "direct");
        const admin = await loginStatus(first.apiUrl, "+5491100000001");
        assertEquals(admin.status, 200);
        const stream = writeStream(first.apiUrl, admin.token!, run);
        while (stream.written.acknowledged.size < ACKNOWLEDGED_BEFORE_KILL) {
          await new Promise((r) => setTimeout(r, 5));
        }
        await first.kill();
        await stream.stop();
        const { acknowledged, attempted } = stream.written;

        const second = await startProduct(product.env, "direct");
        try {
          const { token } = await loginStatus(second.apiUrl, "+5491100000001");
          assert(token, "the admin signs in after the restart (the token of before the crash works too)");
          const patients = await listAll(second.apiUrl, token, "/v1/patients");
          const users = await listAll(second.apiUrl, token, "/v1/user?role=patient");
          const ours = (list: { phone: string }[]) => list.filter((p) => attempted.has(p.phone));

          await t.step(`every acknowledged registration is there (${acknowledged.size} of them)`, () => {
            const byPhone = new Map(patients.map((p) => [p.phone, p.id]));
            for (const [phone, id] of acknowledged) assertEquals(byPhone.get(phone), id, phone);
          });

          await t.step("no registration is there in part: each patient user has their patient record", () => {
            const patientPhones = new Set(ours(patients).map((p) => p.phone));
            const userPhones = new Set(ours(users).map((u) => u.phone));
            assertEquals([...userPhones].sort(), [...patientPhones].sort());
            assert(patientPhones.size >= acknowledged.size);
            assert(
              attempted.size > acknowledged.size,
              "the kill came while writes were in flight",
            );
          });

          await t.step("an acknowledged patient signs in with the password they were given", async () => {
            const [phone] = [...acknowledged.keys()];
            assertEquals((await loginStatus(second.apiUrl, phone, "tortuga-azul-del-rio-1")).status, 200);
          });
        } finally {
          await second.stop();
        }
      } finally {
        await product.cleanUp();
      }
    },
  });
}
