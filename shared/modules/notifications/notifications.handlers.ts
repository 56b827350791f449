import { envelope } from "../../app/envelope.ts";
import { ApiError, invalidField, notFound } from "../../app/problem.ts";
import type { AppRouteHandler } from "../../app/types.ts";
import { endpointAllowed } from "../../adapters/push/endpoint.ts";
import * as q from "./notifications.queries.ts";
import type {
  CreateSubscriptionRoute,
  DeleteSubscriptionRoute,
  ListSubscriptionsRoute,
  PushConfigRoute,
} from "./notifications.routes.ts";

export const pushConfig: AppRouteHandler<PushConfigRoute> = async (c) => {
  await c.var.db.verifySession();
  const vapid = c.var.deps.config.push.vapid;
  return c.json(envelope({ enabled: vapid !== undefined, publicKey: vapid?.publicKey ?? null }), 200);
};

export const listSubscriptions: AppRouteHandler<ListSubscriptionsRoute> = async (c) => {
  const rows = await c.var.db.transaction((tx) => q.listSubscriptions(tx));
  return c.json(envelope(rows.map(q.toSubscription)), 200);
};

export const createSubscription: AppRouteHandler<CreateSubscriptionRoute> = async (c) => {
  const { endpoint, keys } = c.req.valid("json");
  const config = c.var.deps.config.push;
  if (!config.vapid) {
    // Nothing would ever be sent to it: say so rather than store it.
    throw new ApiError("SRV_002", "Las notificaciones push no están configuradas en este servidor");
  }
  if (!endpointAllowed(endpoint, config)) {
    throw invalidField("endpoint", "debe ser la URL https del servicio de push del navegador");
  }
  const row = await c.var.db.transaction((tx) => q.saveSubscription(tx, { endpoint, ...keys }));
  return c.json(envelope(q.toSubscription(row), "Dispositivo registrado"), 201);
};

export const deleteSubscription: AppRouteHandler<DeleteSubscriptionRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const deleted = await c.var.db.transaction((tx) => q.deleteSubscription(tx, id));
  if (!deleted) throw notFound("Suscripción no encontrada");
  return c.json(envelope({ id }, "Dispositivo eliminado"), 200);
};
