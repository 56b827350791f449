import { runInBackground } from "../../app/background.ts";
import { clientAddress } from "../../app/client.ts";
import { envelope } from "../../app/envelope.ts";
import { ApiError, invalidField, unauthenticated } from "../../app/problem.ts";
import type { AppRouteHandler } from "../../app/types.ts";
import { issueAccessToken } from "../../auth/jwt.ts";
import { generateOtp } from "../../auth/otp.ts";
import { hashPassword, verifyAgainstNothing, verifyPassword } from "../../auth/password.ts";
import { requireAcceptablePassword } from "../../auth/password-policy.ts";
import type { Limit } from "../../auth/rate-limits.ts";
import type { Database } from "../../db/database.ts";
import * as privileged from "./auth.privileged.ts";
import { issuePlatformToken } from "../../auth/platform-token.ts";
import type {
  ChangePasswordRoute,
  ForgotPasswordRoute,
  LoginRoute,
  LogoutRoute,
  RealtimeTokenRoute,
  ResetPasswordRoute,
} from "./auth.routes.ts";

async function enforceRateLimits(
  db: Database,
  action: string,
  phone: string,
  client: string,
  limits: { perPhone: Limit; perClient: Limit },
) {
  const retryAfter = await privileged.hitRateLimits(db, [
    { name: `${action}:phone`, subject: phone, limit: limits.perPhone },
    { name: `${action}:client`, subject: client, limit: limits.perClient },
  ]);
  if (retryAfter !== undefined) {
    throw new ApiError("RATE_001", `Demasiados intentos. Vuelve a intentar en ${retryAfter} segundos.`, {
      headers: { "Retry-After": String(retryAfter) },
    });
  }
}

export const login: AppRouteHandler<LoginRoute> = async (c) => {
  const { phone, password } = c.req.valid("json");
  const { db, config, rateLimits } = c.var.deps;
  await enforceRateLimits(db, "login", phone, clientAddress(c), {
    perPhone: rateLimits.loginPerPhone,
    perClient: rateLimits.loginPerClient,
  });

  let issued: Awaited<ReturnType<typeof issueAccessToken>> | undefined;
  const user = await privileged.signIn(db, phone, async (candidate) => {
    const valid = candidate?.passwordHash
      ? await verifyPassword(password, candidate.passwordHash)
      : await verifyAgainstNothing(password);
    if (!candidate || !valid) return undefined;
    issued = await issueAccessToken(candidate, config.jwt);
    return issued;
  });
  if (!user || !issued) throw unauthenticated("Teléfono o contraseña incorrectos");

  c.var.log.info("signed in", { userId: user.id });
  return c.json(
    envelope({
      accessToken: issued.token,
      expiresAt: issued.expiresAt.toISOString(),
      user: {
        id: user.id,
        name: user.name,
        lastName: user.lastName,
        phone: user.phone,
        email: user.email,
        role: user.role,
      },
    }),
    200,
  );
};

export const logout: AppRouteHandler<LogoutRoute> = async (c) => {
  await c.var.db.query("select app.end_current_session()");
  return c.json(envelope({ message: "Sesión cerrada correctamente" }), 200);
};

export const realtimeToken: AppRouteHandler<RealtimeTokenRoute> = async (c) => {
  // Minted only once the database has found the session live: a dead session's refresh is a 401.
  await c.var.db.verifySession();
  const { config } = c.var.deps;
  const issued = await issuePlatformToken(c.var.caller, config.jwt, config.realtimeTokenTtlSeconds);
  return c.json(envelope({ token: issued.token, expiresAt: issued.expiresAt.toISOString() }), 200);
};

const FORGOT_ANSWER = "Si el número está registrado, recibirás un código por WhatsApp.";

export const forgotPassword: AppRouteHandler<ForgotPasswordRoute> = async (c) => {
  const { phone } = c.req.valid("json");
  const { db, config, rateLimits, whatsapp } = c.var.deps;
  await enforceRateLimits(db, "forgot", phone, clientAddress(c), {
    perPhone: rateLimits.forgotPerPhone,
    perClient: rateLimits.forgotPerClient,
  });

  const code = generateOtp();
  const to = await privileged.storeResetCode(db, phone, code, config.otpSecret);
  if (to) {
    // Not awaited: the answer must take the same time whether or not the phone exists.
    const log = c.var.log;
    runInBackground(
      whatsapp.send({
        to,
        body: `Tu código de Consultorio es ${code}. Vence en ${privileged.OTP_TTL_MINUTES} minutos. ` +
          "No lo compartas con nadie.",
      }).catch((error) =>
        log.error("reset code not sent", { sender: whatsapp.name, errorName: error?.name })
      ),
    );
  }
  return c.json(envelope({ message: FORGOT_ANSWER }), 200);
};

export const resetPassword: AppRouteHandler<ResetPasswordRoute> = async (c) => {
  const { phone, code, newPassword, confirmPassword } = c.req.valid("json");
  if (newPassword !== confirmPassword) {
    throw new ApiError("VAL_003", "passwords-do-not-match", {
      errors: [{ field: "confirmPassword", message: "passwords-do-not-match" }],
    });
  }
  const { db, config, rateLimits } = c.var.deps;
  await enforceRateLimits(db, "reset", phone, clientAddress(c), {
    perPhone: rateLimits.resetPerPhone,
    perClient: rateLimits.resetPerClient,
  });
  // The owner's name is checked only once the code matched (resetPasswordWithCode): refusing
  // it before would tell anyone with a phone number whether a guess is its user's name.
  await requireAcceptablePassword("newPassword", newPassword, { phone });

  const changed = await privileged.resetPasswordWithCode(db, { phone, code, newPassword }, config.otpSecret);
  if (!changed) throw new ApiError("AUTH_003", "invalid-or-expired-otp");
  return c.json(envelope({ message: "Contraseña actualizada. Inicia sesión con la nueva contraseña." }), 200);
};

/** A signed-in user's own changes: a stolen token must not try passwords (or send codes) without end. */
export const OWN_CREDENTIAL_LIMIT: Limit = { max: 10, windowSeconds: 60 * 60 };

export async function enforceOwnLimit(db: Database, action: string, userId: string, limit: Limit) {
  const retryAfter = await privileged.hitRateLimits(db, [{ name: `${action}:user`, subject: userId, limit }]);
  if (retryAfter !== undefined) {
    throw new ApiError("RATE_001", `Demasiados intentos. Vuelve a intentar en ${retryAfter} segundos.`, {
      headers: { "Retry-After": String(retryAfter) },
    });
  }
}

export const changePassword: AppRouteHandler<ChangePasswordRoute> = async (c) => {
  const { currentPassword, newPassword, confirmPassword } = c.req.valid("json");
  if (newPassword !== confirmPassword) {
    throw new ApiError("VAL_003", "passwords-do-not-match", {
      errors: [{ field: "confirmPassword", message: "passwords-do-not-match" }],
    });
  }
  const { db } = c.var.deps;
  const { sub, jti } = c.var.caller;
  // The session first: a revoked token neither spends the limit nor learns whether a password is right.
  await c.var.db.verifySession();
  await enforceOwnLimit(db, "change-password", sub, OWN_CREDENTIAL_LIMIT);
  const own = await privileged.ownCredentials(db, sub);
  if (!own) throw unauthenticated();
  // Argon2id between transactions, as at sign-in: no pooled connection is held while it runs.
  const valid = own.passwordHash
    ? await verifyPassword(currentPassword, own.passwordHash)
    : await verifyAgainstNothing(currentPassword);
  if (!valid || !own.passwordHash) {
    throw invalidField("currentPassword", "incorrect", "La contraseña actual no es correcta");
  }
  await requireAcceptablePassword("newPassword", newPassword, own);
  const changed = await privileged.changeOwnPassword(db, {
    userId: sub,
    keepJti: jti,
    checkedHash: own.passwordHash,
    newHash: await hashPassword(newPassword),
  });
  // Changed (or reset) meanwhile: the current password checked is no longer the password.
  if (!changed) throw invalidField("currentPassword", "incorrect", "La contraseña actual no es correcta");
  return c.json(envelope({ message: "Contraseña actualizada. Las otras sesiones se cerraron." }), 200);
};
