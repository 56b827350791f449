/**
 * Channel authorization as Supabase Realtime does it
 * (realtime lib/realtime/tenants/authorization.ex): the RLS policies on
 * realtime.messages are evaluated as the caller, in a transaction that is
 * always rolled back.
 *
 * - read: probe rows (one per extension) are inserted as the connection's own
 *   role; then the role, `realtime.topic` and the JWT claims are set and the
 *   probes are selected: a probe that the select policies hide is a refusal.
 * - write: as the caller, one insert per extension (each in a savepoint); an
 *   insert refused by the insert policies (42501) is a refusal.
 */
import type { Database, Queryable } from "../../../shared/db/database.ts";
import type { Claims } from "./tokens.ts";

export type Extension = "broadcast" | "presence";

/** Each permission is null until evaluated. */
export interface Permissions {
  read: boolean | null;
  write: boolean | null;
}

export interface Policies {
  broadcast: Permissions;
  presence: Permissions;
}

export const unevaluatedPolicies = (): Policies => ({
  broadcast: { read: null, write: null },
  presence: { read: null, write: null },
});

export interface AuthorizationContext {
  /** The channel's topic without the `realtime:` prefix, as realtime.topic() returns it. */
  topic: string;
  claims: Claims;
}

/** The policies could not be evaluated (an unknown role, an error in a policy). */
export class PolicyError extends Error {
  override name = "PolicyError";
}

type Role = "anon" | "authenticated" | "service_role";
const ROLES: readonly string[] = ["anon", "authenticated", "service_role"];

const SET_CONN_CONFIG = `select
  set_config('role', $1, true),
  set_config('realtime.topic', $2, true),
  set_config('request.jwt.claims', $3, true),
  set_config('request.jwt.claim.sub', $4, true),
  set_config('request.jwt.claim.role', $5, true),
  set_config('request.headers', '{}', true)`;

export async function authorizeRead(
  db: Database,
  context: AuthorizationContext,
  extensions: readonly Extension[],
  policies: Policies,
): Promise<Policies> {
  const probes = extensions.map((extension) => ({ extension, id: crypto.randomUUID() }));
  const visible = await rolledBack(db, context, async (tx) => {
    await tx.query("set local role none"); // the probes are written as the connection's own role
    for (const probe of probes) {
      await tx.query("insert into realtime.messages (id, topic, extension) values ($1::uuid, $2, $3)", [
        probe.id,
        context.topic,
        probe.extension,
      ]);
    }
    await setConnConfig(tx, context);
    const rows = await tx.query<{ id: string }>(
      "select id::text as id from realtime.messages where id = any($1::text[]::uuid[])",
      [`{${probes.map((p) => p.id).join(",")}}`],
    );
    return new Set(rows.map((r) => r.id));
  });
  const next = clone(policies);
  for (const probe of probes) next[probe.extension].read = visible.has(probe.id);
  return next;
}

export async function authorizeWrite(
  db: Database,
  context: AuthorizationContext,
  extensions: readonly Extension[],
  policies: Policies,
): Promise<Policies> {
  const allowed = await rolledBack(db, context, async (tx) => {
    await setConnConfig(tx, context);
    const result = new Map<Extension, boolean>();
    for (const extension of extensions) {
      await tx.query("savepoint realtime_write_check");
      try {
        await tx.query("insert into realtime.messages (topic, extension) values ($1, $2)", [
          context.topic,
          extension,
        ]);
        await tx.query("release savepoint realtime_write_check");
        result.set(extension, true);
      } catch (error) {
        if ((error as { code?: string }).code !== "42501") throw error;
        await tx.query("rollback to savepoint realtime_write_check");
        result.set(extension, false);
      }
    }
    return result;
  });
  const next = clone(policies);
  for (const extension of ["broadcast", "presence"] as const) {
    next[extension].write = allowed.get(extension) ?? false;
  }
  return next;
}

function roleOf(claims: Claims): Role {
  if (!ROLES.includes(claims.role)) throw new PolicyError(`role "${claims.role}" does not exist`);
  return claims.role as Role;
}

async function setConnConfig(tx: Queryable, context: AuthorizationContext) {
  const { claims } = context;
  await tx.query(SET_CONN_CONFIG, [
    roleOf(claims),
    context.topic,
    JSON.stringify(claims),
    typeof claims.sub === "string" ? claims.sub : "",
    claims.role,
  ]);
}

class Rollback<T> {
  constructor(readonly value: T) {}
}

/** Runs `fn` in a transaction as the caller's role, then rolls it back and answers what `fn` answered. */
async function rolledBack<T>(
  db: Database,
  context: AuthorizationContext,
  fn: (tx: Queryable) => Promise<T>,
): Promise<T> {
  try {
    await db.asRole(roleOf(context.claims), context.claims, async (tx) => {
      throw new Rollback(await fn(tx));
    });
  } catch (outcome) {
    if (outcome instanceof Rollback) return outcome.value as T;
    if (outcome instanceof PolicyError) throw outcome;
    throw new PolicyError(`policy evaluation failed (${(outcome as { code?: string }).code ?? "no code"})`, {
      cause: outcome,
    });
  }
  throw new Error("unreachable: the authorization transaction committed");
}

function clone(p: Policies): Policies {
  return { broadcast: { ...p.broadcast }, presence: { ...p.presence } };
}
