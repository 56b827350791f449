import { createRoute, z } from "@hono/zod-openapi";
import { IsoDateTime } from "../../app/fields.ts";
import { jsonBody, ok, problems, UuidParamsSchema } from "../../app/openapi.ts";

const tags = ["Notifications"];

const base64url = (bytes: number) =>
  z.string().regex(
    new RegExp(`^[A-Za-z0-9_-]{${Math.ceil(bytes * 4 / 3)}}$`),
    `debe ser base64url sin relleno de ${bytes} bytes`,
  );

export const CreatePushSubscriptionSchema = z.object({
  endpoint: z.url({ protocol: /^https?$/, error: "debe ser la URL https del servicio de push" }).max(1024)
    .openapi({ example: "https://fcm.googleapis.com/fcm/send/dGVzdA..." }),
  keys: z.object({
    p256dh: base64url(65).openapi({
      description: "The subscription's P-256 public key (getKey('p256dh'))",
      example: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
    }),
    auth: base64url(16).openapi({
      description: "The subscription's authentication secret (getKey('auth'))",
      example: "tBHItJI5svbpez7KI4CCXg",
    }),
  }),
}).openapi("CreatePushSubscription");

export const PushSubscriptionSchema = z.object({
  id: z.uuid(),
  endpoint: z.string(),
  createdAt: IsoDateTime,
  lastSentAt: IsoDateTime.nullable(),
}).openapi("PushSubscription");

export const PushConfigSchema = z.object({
  enabled: z.boolean().openapi({ description: "Whether this server sends Web Push (VAPID keys configured)" }),
  publicKey: z.string().nullable().openapi({
    description: "The VAPID public key, base64url: PushManager.subscribe's applicationServerKey",
  }),
}).openapi("PushConfig");

export const pushConfig = createRoute({
  method: "get",
  path: "/v1/notifications/push-config",
  operationId: "getPushConfig",
  tags,
  summary: "Whether Web Push is on, and the VAPID public key to subscribe with",
  responses: { 200: ok(PushConfigSchema, "Push settings"), ...problems() },
});

export const listSubscriptions = createRoute({
  method: "get",
  path: "/v1/notifications/push-subscriptions",
  operationId: "listPushSubscriptions",
  tags,
  summary: "The caller's devices that receive push notifications",
  responses: {
    200: ok(z.array(PushSubscriptionSchema), "The caller's subscriptions"),
    ...problems(),
  },
});

export const createSubscription = createRoute({
  method: "post",
  path: "/v1/notifications/push-subscriptions",
  operationId: "createPushSubscription",
  tags,
  summary: "Register this device's push subscription (saving the same endpoint again updates it)",
  request: { body: jsonBody(CreatePushSubscriptionSchema) },
  responses: {
    201: ok(PushSubscriptionSchema, "Registered"),
    ...problems(409, 503),
  },
});

export const deleteSubscription = createRoute({
  method: "delete",
  path: "/v1/notifications/push-subscriptions/{id}",
  operationId: "deletePushSubscription",
  tags,
  summary: "Stop push notifications to one of the caller's devices",
  request: { params: UuidParamsSchema },
  responses: { 200: ok(z.object({ id: z.uuid() }), "Removed"), ...problems(404) },
});

export type PushConfigRoute = typeof pushConfig;
export type ListSubscriptionsRoute = typeof listSubscriptions;
export type CreateSubscriptionRoute = typeof createSubscription;
export type DeleteSubscriptionRoute = typeof deleteSubscription;
