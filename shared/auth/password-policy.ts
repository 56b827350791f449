/**
 * What a new password must be (OWASP ASVS 5.0, V6.2): at least 8 characters
 * (15 or more recommended), no composition rules, not one of the common or
 * breached passwords, and not built from the user's own phone or name. The
 * list (about 49,000 passwords, the top of the breach corpora, from
 * @zxcvbn-ts/language-common) is loaded on the first password set, so a cold
 * start does not pay for it.
 */
import { ApiError } from "../app/problem.ts";

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_RECOMMENDED_LENGTH = 15;
/** The phone's last digits that a password may not contain (the subscriber number people type). */
const PHONE_DIGITS = 8;
const NAME_TOKEN_MIN_LETTERS = 3;

export interface PasswordOwner {
  phone?: string;
  name?: string;
  lastName?: string;
}

let common: Promise<Set<string>> | undefined;

function commonPasswords(): Promise<Set<string>> {
  common ??= import("@zxcvbn-ts/language-common/dist/passwords.json.mjs").then((m) =>
    new Set<string>((m.default as string[]).map((p) => p.toLowerCase()))
  );
  return common;
}

/** Lower case without accents: "José" and "jose" are the same name. */
const fold = (text: string) => text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();

/** Answers why the password may not be used, or undefined if it may. */
export async function passwordProblem(
  password: string,
  owner: PasswordOwner = {},
): Promise<string | undefined> {
  if ([...password].length < PASSWORD_MIN_LENGTH) {
    return `debe tener al menos ${PASSWORD_MIN_LENGTH} caracteres (se recomiendan ${PASSWORD_RECOMMENDED_LENGTH} o más)`;
  }
  const folded = fold(password);
  if ((await commonPasswords()).has(password.toLowerCase()) || (await commonPasswords()).has(folded)) {
    return "es una de las contraseñas más comunes o filtradas; elige otra, mejor una frase de " +
      `${PASSWORD_RECOMMENDED_LENGTH} caracteres o más`;
  }
  const phoneDigits = owner.phone?.replace(/\D/g, "").slice(-PHONE_DIGITS);
  if (phoneDigits && phoneDigits.length >= 6 && password.includes(phoneDigits)) {
    return "no debe contener tu número de teléfono";
  }
  const nameTokens = fold(`${owner.name ?? ""} ${owner.lastName ?? ""}`).split(/[^\p{L}]+/u)
    .filter((token) => token.length >= NAME_TOKEN_MIN_LETTERS);
  if (nameTokens.some((token) => folded.includes(token))) return "no debe contener tu nombre ni tu apellido";
  return undefined;
}

/** Throws 400 VAL_001 naming `field` if the password may not be used. */
export async function requireAcceptablePassword(
  field: string,
  password: string,
  owner: PasswordOwner = {},
): Promise<void> {
  const problem = await passwordProblem(password, owner);
  if (!problem) return;
  throw new ApiError("VAL_001", `La contraseña ${problem}`, { errors: [{ field, message: problem }] });
}
