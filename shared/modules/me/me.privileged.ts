/**
 * The privileged path of a phone change: its codes live in private.*, and
 * the phone itself is changed here, as the service role (no policy lets a
 * user write their own users row), only once the code
 * sent to the new number matched. Every function takes the signed-in
 * caller's own id; none is reachable without a live session.
 */
import { hashOtp, otpMatches } from "../../auth/otp.ts";
import type { Database } from "../../db/database.ts";
import { endOtherSessions, OTP_TTL_MINUTES, spendTry } from "../auth/auth.privileged.ts";
import type { MyContactRow } from "./me.queries.ts";

/** As the reset codes: 10 minutes, 5 tries (spendTry). */
export const PHONE_CODE_TTL_MINUTES = OTP_TTL_MINUTES;

/** The code is bound to the user and the number: a code for one number never confirms another. */
const subject = (userId: string, phone: string) => `${userId}:${phone}`;

/**
 * Replaces the user's pending phone change with one for `phone`. Answers
 * false if another user has that phone (nothing is stored).
 */
export async function storePhoneChangeCode(
  db: Database,
  input: { userId: string; phone: string; code: string },
  secret: string,
): Promise<{ taken: boolean; expiresAt?: string }> {
  return await db.asService(async (tx) => {
    const [taken] = await tx.query(
      "select 1 from public.users where phone = $1 and deleted_at is null and id <> $2",
      [input.phone, input.userId],
    );
    if (taken) return { taken: true };
    await tx.query(
      "update private.phone_change_codes set consumed_at = now() where user_id = $1 and consumed_at is null",
      [input.userId],
    );
    const [row] = await tx.query<{ expires_at: string }>(
      `insert into private.phone_change_codes (user_id, new_phone, code_hash, expires_at)
       values ($1, $2, $3, now() + make_interval(mins => $4))
       returning to_char(expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as expires_at`,
      [
        input.userId,
        input.phone,
        await hashOtp(secret, subject(input.userId, input.phone), input.code),
        PHONE_CODE_TTL_MINUTES,
      ],
    );
    return { taken: false, expiresAt: row.expires_at };
  });
}

export type PhoneChangeResult = "invalid" | "taken" | MyContactRow;

/**
 * Checks the code (counting the try); if it matches, sets the phone, uses up
 * the code and ends every other session of the user (`keepJti` stays live).
 */
export async function confirmPhoneChange(
  db: Database,
  input: { userId: string; keepJti: string; phone: string; code: string },
  secret: string,
): Promise<PhoneChangeResult> {
  return await db.asService(async (tx) => {
    const [pending] = await tx.query<{ id: string; code_hash: string; attempts: number }>(
      `select id, code_hash, attempts from private.phone_change_codes
        where user_id = $1 and new_phone = $2 and consumed_at is null and expires_at > now()
        order by created_at desc limit 1
          for update`,
      [input.userId, input.phone],
    );
    if (!pending) return "invalid";
    const matches = await spendTry(
      tx,
      "phone_change_codes",
      pending,
      () => otpMatches(secret, subject(input.userId, input.phone), input.code, pending.code_hash),
    );
    if (!matches) return "invalid";
    // Taken since the code was sent: the code is spent, the phone stays.
    const changed = await tx.query(
      `update public.users set phone = $2
        where id = $1 and deleted_at is null
          and not exists (select 1 from public.users o where o.phone = $2 and o.deleted_at is null and o.id <> $1)
       returning id`,
      [input.userId, input.phone],
    );
    if (!changed.length) return "taken";
    await endOtherSessions(tx, input.userId, input.keepJti, "phone_changed");
    const [contact] = await tx.query<MyContactRow>(
      `select u.id, u.phone, u.email, p.address from public.users u
         left join public.patients p on p.id = u.id where u.id = $1`,
      [input.userId],
    );
    return contact;
  });
}
