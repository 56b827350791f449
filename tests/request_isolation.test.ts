/**
 * The request flow's core promise, at the database layer, on both drivers:
 * every request runs as its caller, RLS decides, and nothing is visible or
 * writable without the claims.
 */
import { assert, assertEquals, assertRejects } from "./helpers/std.ts";
import { createUser, testBothDrivers } from "./helpers/stack.ts";
import type { Claims } from "../shared/db/database.ts";
import { verifyAccessToken } from "../shared/auth/jwt.ts";

testBothDrivers("request isolation: RLS decides what a caller sees", async (t, s) => {
  const db = s.stack.deps.db;
  const admin = await createUser(s, "admin");
  const patient = await createUser(s, "patient");
  const other = await createUser(s, "patient");
  const claimsOf = async (token: string) => (await verifyAccessToken(token, s.stack.config.jwt))! as Claims;
  const adminClaims = await claimsOf(admin.token);

  await t.step("without claims, as authenticated, every user row is hidden", async () => {
    const rows = await db.asService(async (tx) => {
      await tx.query("set local role authenticated");
      return await tx.query("select id from public.users");
    });
    assertEquals(rows.length, 0);
    const owner = await db.queryAsOwner<{ n: number }>("select count(*)::int as n from public.users");
    assertEquals(owner[0].n, 3, "the rows exist: the owner sees them");
  });

  await t.step(
    "set local outside a transaction does nothing: the next statement sees no claims",
    async () => {
      await db.queryAsOwner("select set_config('request.jwt.claims', $1, true)", [
        JSON.stringify({ sub: patient.id }),
      ]);
      const [row] = await db.queryAsOwner<{ claims: string | null }>(
        "select nullif(current_setting('request.jwt.claims', true), '') as claims",
      );
      assertEquals(row.claims, null);
    },
  );

  await t.step("a patient sees only their own row", async () => {
    const rows = await db.queryAsCaller<{ id: string }>(
      await claimsOf(patient.token),
      "select id from public.users",
    );
    assertEquals(rows.map((r) => r.id), [patient.id]);
  });

  await t.step("an admin sees every row", async () => {
    const rows = await db.queryAsCaller<{ id: string }>(
      await claimsOf(admin.token),
      "select id from public.users",
    );
    assertEquals(rows.length, 3);
  });

  await t.step("a patient's update of another user changes nothing", async () => {
    const updated = await db.queryAsCaller(
      await claimsOf(patient.token),
      "update public.users set name = 'Hacked' where id = $1 returning id",
      [other.id],
    );
    assertEquals(updated.length, 0);
    const [row] = await db.queryAsOwner<{ name: string }>("select name from public.users where id = $1", [
      other.id,
    ]);
    assertEquals(row.name, "Test");
  });

  await t.step("the same update succeeds for an admin", async () => {
    const updated = await db.queryAsCaller(
      await claimsOf(admin.token),
      "update public.users set name = 'Renamed' where id = $1 returning id",
      [other.id],
    );
    assertEquals(updated.length, 1);
  });

  await t.step("a caller cannot read private tables", async () => {
    const error = await assertRejects(() =>
      db.queryAsCaller(adminClaims, "select * from private.sessions")
    ) as { code?: string };
    assertEquals(error.code, "42501");
  });

  await t.step("claims of a revoked session run nothing", async () => {
    const claims = await claimsOf(other.token);
    await db.queryAsOwner(
      "update private.sessions set revoked_at = now(), revoked_reason = 'admin' where jti = $1",
      [
        claims.jti,
      ],
    );
    const error = await assertRejects(() =>
      db.queryAsCaller(claims, "update public.users set name = 'Ghost' where id = $1", [other.id])
    ) as { code?: string; message?: string };
    assertEquals(error.message, "AUTH_001");
    const [row] = await db.queryAsOwner<{ name: string }>("select name from public.users where id = $1", [
      other.id,
    ]);
    assertEquals(row.name, "Renamed");
  });

  await t.step("a failing statement rolls back the whole transaction", async () => {
    const error = await assertRejects(() =>
      db.asCaller(adminClaims, async (tx) => {
        await tx.query("update public.users set name = 'Half' where id = $1", [patient.id]);
        await tx.query("select 1/0");
      })
    ) as { code?: string };
    assertEquals(error.code, "22012");
    const [row] = await db.queryAsOwner<{ name: string }>("select name from public.users where id = $1", [
      patient.id,
    ]);
    assertEquals(row.name, "Test");
  });

  await t.step("asRole (the Supabase stand-in's path) runs as the given role and claims", async () => {
    const anon = await assertRejects(() =>
      db.asRole("anon", { role: "anon" }, (tx) => tx.query("select id from public.users"))
    ) as { code?: string };
    assertEquals(anon.code, "42501", "anon has no grant on users at all");
    const asPatient = await db.asRole(
      "authenticated",
      { sub: patient.id, role: "authenticated", user_role: "patient" },
      (tx) => tx.query<{ id: string }>("select id from public.users"),
    );
    assertEquals(asPatient.map((r) => r.id), [patient.id]);
    const service = await db.asRole(
      "service_role",
      { role: "service_role" },
      (tx) => tx.query("select id from public.users"),
    );
    assertEquals(service.length, 3);
  });

  await t.step("the role and claims do not leak to the next use of the connection", async () => {
    await db.queryAsCaller(await claimsOf(patient.token), "select 1");
    const [row] = await db.queryAsOwner<{ role: string; claims: string | null }>(
      "select current_user as role, nullif(current_setting('request.jwt.claims', true), '') as claims",
    );
    assert(row.role !== "authenticated");
    assertEquals(row.claims, null);
  });
});
