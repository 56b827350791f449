import { runInBackground } from "../../app/background.ts";
import { envelope } from "../../app/envelope.ts";
import { ApiError, notFound } from "../../app/problem.ts";
import type { AppRouteHandler } from "../../app/types.ts";
import { generateOtp } from "../../auth/otp.ts";
import type { Limit } from "../../auth/rate-limits.ts";
import { enforceOwnLimit, OWN_CREDENTIAL_LIMIT } from "../auth/auth.handlers.ts";
import * as privileged from "./me.privileged.ts";
import { MY_CONTACT, type MyContactRow, UPDATE_MY_CONTACT } from "./me.queries.ts";
import type { ConfirmPhoneChangeRoute, RequestPhoneChangeRoute, UpdateMyContactRoute } from "./me.routes.ts";

/** Codes sent: per user and per new number, so nobody floods a stranger's WhatsApp. */
const PHONE_CODES_PER_USER: Limit = { max: 3, windowSeconds: 60 * 60 };
const PHONE_CODES_PER_NUMBER: Limit = { max: 3, windowSeconds: 60 * 60 };

const phoneTaken = () =>
  new ApiError("RES_002", "Ese número ya está registrado", {
    errors: [{ field: "phone", message: "ya está en uso" }],
  });

const toContact = (row: MyContactRow) => ({
  id: row.id,
  phone: row.phone,
  email: row.email,
  address: row.address,
});

export const updateMyContact: AppRouteHandler<UpdateMyContactRoute> = async (c) => {
  const { email, address } = c.req.valid("json");
  const row = await c.var.db.transaction(async (tx) => {
    await tx.query(UPDATE_MY_CONTACT, [email ?? null, address ?? null]);
    const [row] = await tx.query<MyContactRow>(MY_CONTACT);
    if (!row) throw notFound("Usuario no encontrado");
    return row;
  });
  return c.json(envelope(toContact(row), "Datos de contacto actualizados"), 200);
};

export const requestPhoneChange: AppRouteHandler<RequestPhoneChangeRoute> = async (c) => {
  const { phone } = c.req.valid("json");
  const { db, config, whatsapp } = c.var.deps;
  const { sub } = c.var.caller;
  // A live session first: a revoked token neither sends codes nor spends the limits.
  await c.var.db.verifySession();
  await enforceOwnLimit(db, "phone-code", sub, PHONE_CODES_PER_USER);
  await enforceOwnLimit(db, "phone-code-number", phone, PHONE_CODES_PER_NUMBER);
  const code = generateOtp();
  const stored = await privileged.storePhoneChangeCode(db, { userId: sub, phone, code }, config.otpSecret);
  if (stored.taken) throw phoneTaken();
  const log = c.var.log;
  runInBackground(
    whatsapp.send({
      to: phone,
      body: `Tu código para cambiar el teléfono en Consultorio es ${code}. Vence en ` +
        `${privileged.PHONE_CODE_TTL_MINUTES} minutos. Si no lo pediste, ignora este mensaje.`,
    }).catch((error) =>
      log.error("phone change code not sent", { sender: whatsapp.name, errorName: error?.name })
    ),
  );
  return c.json(
    envelope({
      message: "Te enviamos un código por WhatsApp al número nuevo.",
      expiresAt: stored.expiresAt!,
    }),
    200,
  );
};

export const confirmPhoneChange: AppRouteHandler<ConfirmPhoneChangeRoute> = async (c) => {
  const { phone, code } = c.req.valid("json");
  const { db, config } = c.var.deps;
  const { sub, jti } = c.var.caller;
  await c.var.db.verifySession();
  await enforceOwnLimit(db, "phone-confirm", sub, OWN_CREDENTIAL_LIMIT);
  const result = await privileged.confirmPhoneChange(
    db,
    { userId: sub, keepJti: jti, phone, code },
    config.otpSecret,
  );
  if (result === "invalid") {
    throw new ApiError("AUTH_003", "invalid-or-expired-otp", {
      errors: [{ field: "code", message: "invalid-or-expired-otp" }],
    });
  }
  if (result === "taken") throw phoneTaken();
  return c.json(envelope(toContact(result), "Teléfono actualizado. Las otras sesiones se cerraron."), 200);
};
