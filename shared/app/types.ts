import type { OpenAPIHono, RouteConfig, RouteHandler } from "@hono/zod-openapi";
import type { Config } from "../config.ts";
import type { Database } from "../db/database.ts";
import type { AccessClaims } from "../auth/jwt.ts";
import type { WhatsAppSender } from "../adapters/whatsapp/sender.ts";
import type { StorageAdapter } from "../adapters/storage/storage.ts";
import type { VideoAdapter } from "../adapters/livekit/livekit.ts";
import type { ChatModel } from "../adapters/openai/openai.ts";
import type { RateLimits } from "../auth/rate-limits.ts";
import type { Logger } from "./logger.ts";
import type { RequestDatabase } from "./request-database.ts";

/** What the app is built from: configuration and the outside world. */
export interface Deps {
  config: Config;
  db: Database;
  whatsapp: WhatsAppSender;
  /** Supabase Storage (files), acting with the service_role key. */
  storage: StorageAdapter;
  /** LiveKit access tokens, signed locally. */
  video: VideoAdapter;
  /** The WhatsApp assistant's model (OpenAI chat completions, loaded on first use). */
  assistantModel: ChatModel;
  logger: Logger;
  rateLimits: RateLimits;
  /**
   * Test-only: the instant the chat's rules (hours, rate-limit windows) run at.
   * Unset in production (createDeps never sets it): the database's now().
   */
  clock?: () => Date;
}

export interface AppBindings {
  Variables: {
    requestId: string;
    deps: Deps;
    log: Logger;
    /** The verified caller; set on every route that is not public. */
    caller: AccessClaims;
    /** The request's one transaction, as the caller. */
    db: RequestDatabase;
  };
}

export type AppOpenAPI = OpenAPIHono<AppBindings>;
export type AppRouteHandler<R extends RouteConfig> = RouteHandler<R, AppBindings>;
