/**
 * The privileged path of authentication: everything that must read or write
 * private.* before there is a caller (sign-in, reset codes, rate limits).
 * Runs as service_role. Keep it small: every function here is reviewed.
 */
import type { AppRole } from "../../auth/jwt.ts";
import { hashOtp, otpMatches } from "../../auth/otp.ts";
import { hashPassword } from "../../auth/password.ts";
import { requireAcceptablePassword } from "../../auth/password-policy.ts";
import { type Limit, rateLimitKey } from "../../auth/rate-limits.ts";
import type { Database, Queryable } from "../../db/database.ts";

export const OTP_TTL_MINUTES = 10;
export const OTP_MAX_ATTEMPTS = 5;

export interface RateLimitCheck {
  name: string;
  subject: string;
  limit: Limit;
}

/** Counts one hit on each check; answers the wait in seconds if any is over its limit. */
export async function hitRateLimits(db: Database, checks: RateLimitCheck[]): Promise<number | undefined> {
  const keys = await Promise.all(checks.map((c) => rateLimitKey(c.name, c.subject)));
  const results = await db.asService(async (tx) => {
    const out: Array<{ allowed: boolean; retry_after_seconds: number }> = [];
    for (const [i, check] of checks.entries()) {
      const [row] = await tx.query<{ allowed: boolean; retry_after_seconds: number }>(
        "select * from private.hit_rate_limit($1, $2, $3)",
        [keys[i], check.limit.windowSeconds, check.limit.max],
      );
      out.push(row);
    }
    return out;
  });
  const blocked = results.filter((r) => !r.allowed);
  return blocked.length ? Math.max(...blocked.map((r) => r.retry_after_seconds)) : undefined;
}

export interface SignInCandidate {
  id: string;
  role: AppRole;
  name: string;
  lastName: string;
  phone: string;
  email: string;
  passwordHash: string | null;
}

/**
 * Finds the active user with this phone, lets `verify` check the password,
 * and opens a session for the token about to be issued. The check (tens of
 * milliseconds of Argon2id) runs between two transactions, not inside one:
 * it holds no pooled connection, and on PGlite, which runs one transaction
 * at a time, it does not stall every other request. The session is opened
 * only if the user, their role and their password hash are still those
 * checked (a reset or a deactivation in between refuses the sign-in).
 */
export async function signIn(
  db: Database,
  phone: string,
  verify: (
    candidate: SignInCandidate | undefined,
  ) => Promise<{ jti: string; expiresAt: Date; kid?: string } | undefined>,
): Promise<SignInCandidate | undefined> {
  const [candidate] = await db.asService((tx) =>
    tx.query<SignInCandidate>(
      `select u.id, u.role, u.name, u.last_name as "lastName", u.phone, u.email,
              c.password_hash as "passwordHash"
         from public.users u
         left join private.credentials c on c.user_id = u.id
        where u.phone = $1 and u.is_active and u.deleted_at is null`,
      [phone],
    )
  );
  const session = await verify(candidate);
  if (!candidate || !session) return undefined;
  const opened = await db.asService((tx) =>
    tx.query(
      `insert into private.sessions (jti, user_id, expires_at, user_role, signing_kid)
       select $1, u.id, $3, u.role, $6
         from public.users u
         join private.credentials c on c.user_id = u.id
        where u.id = $2 and u.role = $4 and u.is_active and u.deleted_at is null and c.password_hash = $5
       returning user_id`,
      [
        session.jti,
        candidate.id,
        session.expiresAt.toISOString(),
        candidate.role,
        candidate.passwordHash,
        session.kid ?? null,
      ],
    )
  );
  return opened.length ? candidate : undefined;
}

/**
 * Replaces any pending code of the user of this phone with a new one.
 * Answers the user's phone if there is such a user, undefined otherwise.
 */
export async function storeResetCode(
  db: Database,
  phone: string,
  code: string,
  secret: string,
): Promise<string | undefined> {
  return await db.asService(async (tx) => {
    const [user] = await tx.query<{ id: string; phone: string }>(
      "select id, phone from public.users where phone = $1 and is_active and deleted_at is null",
      [phone],
    );
    if (!user) return undefined;
    await tx.query(
      `update private.password_reset_codes set consumed_at = now()
        where user_id = $1 and consumed_at is null`,
      [user.id],
    );
    await tx.query(
      `insert into private.password_reset_codes (user_id, code_hash, expires_at)
       values ($1, $2, now() + make_interval(mins => $3))`,
      [user.id, await hashOtp(secret, user.id, code), OTP_TTL_MINUTES],
    );
    return user.phone;
  });
}

/**
 * Checks the code (counting the try), and if it matches sets the new
 * password, uses up the code and ends every session of the user.
 */
export async function resetPasswordWithCode(
  db: Database,
  input: { phone: string; code: string; newPassword: string },
  secret: string,
): Promise<boolean> {
  return await db.asService(async (tx) => {
    const [pending] = await tx.query<
      { id: string; user_id: string; code_hash: string; attempts: number; name: string; last_name: string }
    >(
      `select r.id, r.user_id, r.code_hash, r.attempts, u.name, u.last_name
         from private.password_reset_codes r
         join public.users u on u.id = r.user_id
        where u.phone = $1 and u.is_active and u.deleted_at is null
          and r.consumed_at is null and r.expires_at > now()
        order by r.created_at desc
        limit 1
          for update of r`,
      [input.phone],
    );
    if (!pending) return false;

    const matches = await spendTry(
      tx,
      "password_reset_codes",
      pending,
      () => otpMatches(secret, pending.user_id, input.code, pending.code_hash),
    );
    if (!matches) return false;
    // Refused here, the whole transaction rolls back: the code stays usable with a better password.
    await requireAcceptablePassword("newPassword", input.newPassword, {
      phone: input.phone,
      name: pending.name,
      lastName: pending.last_name,
    });

    await tx.query(
      `insert into private.credentials (user_id, password_hash, password_changed_at)
       values ($1, $2, now())
       on conflict (user_id) do update
         set password_hash = excluded.password_hash, password_changed_at = excluded.password_changed_at`,
      [pending.user_id, await hashPassword(input.newPassword)],
    );
    await tx.query("select private.end_sessions($1, 'password_reset')", [pending.user_id]);
    return true;
  });
}

export interface OwnCredentials {
  phone: string;
  name: string;
  lastName: string;
  passwordHash: string | null;
}

/** The signed-in user's phone, name and password hash (to check their current password). */
export async function ownCredentials(db: Database, userId: string): Promise<OwnCredentials | undefined> {
  const [row] = await db.asService((tx) =>
    tx.query<OwnCredentials>(
      `select u.phone, u.name, u.last_name as "lastName", c.password_hash as "passwordHash"
         from public.users u
         left join private.credentials c on c.user_id = u.id
        where u.id = $1 and u.is_active and u.deleted_at is null`,
      [userId],
    )
  );
  return row;
}

/**
 * Replaces the password if it is still the one checked (a concurrent change or
 * reset wins), and ends every other session of the user; `keepJti` stays live.
 */
export async function changeOwnPassword(
  db: Database,
  input: { userId: string; keepJti: string; checkedHash: string; newHash: string },
): Promise<boolean> {
  return await db.asService(async (tx) => {
    const changed = await tx.query(
      `update private.credentials set password_hash = $3, password_changed_at = now()
        where user_id = $1 and password_hash = $2
       returning user_id`,
      [input.userId, input.checkedHash, input.newHash],
    );
    if (!changed.length) return false;
    await endOtherSessions(tx, input.userId, input.keepJti, "password_changed");
    return true;
  });
}

/** Ends every open session of the user but `keepJti` (the caller's own). */
export async function endOtherSessions(tx: Queryable, userId: string, keepJti: string, reason: string) {
  await tx.query(
    `update private.sessions set revoked_at = now(), revoked_reason = $3
      where user_id = $1 and jti <> $2::uuid and revoked_at is null`,
    [userId, keepJti, reason],
  );
}

/**
 * Counts one try of a pending one-time code (a reset or a phone change) and
 * spends the code when it matches or at its last allowed try; answers
 * whether it matched. `check` runs only while tries are left.
 */
export async function spendTry(
  tx: Queryable,
  table: "password_reset_codes" | "phone_change_codes",
  pending: { id: string; attempts: number },
  check: () => Promise<boolean>,
): Promise<boolean> {
  const attempts = pending.attempts + 1;
  const matches = attempts <= OTP_MAX_ATTEMPTS && await check();
  await tx.query(
    `update private.${table}
        set attempts = $2::integer,
            consumed_at = case when $3::boolean or $2::integer >= $4::integer then now() end
      where id = $1`,
    [pending.id, attempts, matches, OTP_MAX_ATTEMPTS],
  );
  return matches;
}
