/**
 * Every call to an outside service (LiveKit, Storage, Twilio, OpenAI) goes
 * through here: a timeout, a circuit breaker per service, and one mapping of
 * its failures to 503 SRV_002 with Retry-After. A dead service then costs one
 * timeout per request for a few requests, and after that nothing: calls fail
 * fast until its cool-down has passed.
 *
 * Never call one inside a transaction (`c.var.db.transaction`, `asCaller`,
 * `asService`): the database connection would wait as long as the service.
 */
import type { Context } from "hono";
import { VideoNotFoundError } from "../adapters/livekit/livekit.ts";
import type { ChatModel } from "../adapters/openai/openai.ts";
import { StorageAdapterError, StorageObjectMissing } from "../adapters/storage/storage.ts";
import { describeError } from "./logger.ts";
import { ApiError, notFound } from "./problem.ts";
import type { AppBindings, Deps } from "./types.ts";

export type OutsideService = "livekit" | "storage" | "twilio" | "openai";

export interface OutsideSettings {
  /** How long one call may take, per service (the SDK's own retries included). */
  timeoutMs: Record<OutsideService, number>;
  /** Consecutive faults that open a service's breaker. */
  breakerFailures: number;
  /** How long an open breaker fails calls at once before it lets one through again. */
  breakerCooldownMs: number;
}

/** Seconds a client waits before retrying after a service failed (not a breaker's remaining cool-down). */
const RETRY_AFTER_SECONDS: Record<OutsideService, number> = {
  livekit: 5,
  storage: 5,
  twilio: 10,
  openai: 30,
};

const NAMES: Record<OutsideService, string> = {
  livekit: "El servicio de video",
  storage: "El almacenamiento de archivos",
  twilio: "WhatsApp",
  openai: "El asistente",
};

/** The service did not answer in time, its breaker is open, or it failed. */
export class OutsideUnavailableError extends Error {
  override name = "OutsideUnavailableError";

  constructor(
    readonly service: OutsideService,
    readonly reason: "timeout" | "breaker_open",
    readonly retryAfterSeconds: number,
  ) {
    super(`${service}: ${reason === "timeout" ? "no answer in time" : "circuit open (recent failures)"}`);
  }
}

interface Breaker {
  failures: number;
  openUntil: number;
}

/** One breaker per service of each Deps (each test stack has its own). */
const breakers = new WeakMap<Deps, Map<OutsideService, Breaker>>();

function breakerOf(deps: Deps, service: OutsideService): Breaker {
  let byService = breakers.get(deps);
  if (!byService) breakers.set(deps, byService = new Map());
  let breaker = byService.get(service);
  if (!breaker) byService.set(service, breaker = { failures: 0, openUntil: 0 });
  return breaker;
}

/**
 * A call refused before it went out (a spent budget): the service did not
 * fail, so its breaker does not count it.
 */
export class CallNotMade extends Error {}

/** The service answered (a missing room, a refused upload), or was never called: it is alive. */
function answered(error: unknown): boolean {
  return error instanceof CallNotMade || error instanceof VideoNotFoundError ||
    error instanceof StorageObjectMissing ||
    (error instanceof StorageAdapterError && error.status !== undefined && error.status < 500);
}

/** The state of each service's breaker, for health: "down" while open. */
export function outsideStatus(deps: Deps): Record<OutsideService, "up" | "down"> {
  const now = Date.now();
  const status = (s: OutsideService) => breakerOf(deps, s).openUntil > now ? "down" as const : "up" as const;
  return {
    livekit: status("livekit"),
    storage: status("storage"),
    twilio: status("twilio"),
    openai: status("openai"),
  };
}

/**
 * Runs `fn` against `service` with its timeout and breaker. Throws
 * OutsideUnavailableError on a timeout or an open breaker, and `fn`'s own
 * error otherwise. The call itself is not aborted on a timeout (the adapters
 * hide their SDKs); only the wait for it ends.
 */
export async function guarded<T>(deps: Deps, service: OutsideService, fn: () => Promise<T>): Promise<T> {
  const settings = deps.config.outside;
  const breaker = breakerOf(deps, service);
  const now = Date.now();
  if (breaker.openUntil > now) {
    throw new OutsideUnavailableError(service, "breaker_open", Math.ceil((breaker.openUntil - now) / 1000));
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new OutsideUnavailableError(service, "timeout", RETRY_AFTER_SECONDS[service])),
      settings.timeoutMs[service],
    );
  });
  try {
    const result = await Promise.race([fn(), timeout]);
    breaker.failures = 0;
    return result;
  } catch (error) {
    if (answered(error)) {
      breaker.failures = 0;
    } else if (++breaker.failures >= settings.breakerFailures) {
      // Open (again, if the one call let through after a cool-down failed too).
      breaker.openUntil = Date.now() + settings.breakerCooldownMs;
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** The assistant's model behind OpenAI's timeout and breaker (for code that runs outside a request). */
export function guardedModel(deps: Deps): ChatModel {
  return {
    model: deps.assistantModel.model,
    complete: (messages, tools) =>
      guarded(deps, "openai", () => deps.assistantModel.complete(messages, tools)),
  };
}

/**
 * A handler's call to an outside service: `guarded`, with its failures as
 * the API answers them: 503 SRV_002 with Retry-After, or, with `missing`, 404
 * RES_001 for what the service does not have (a Storage object, a LiveKit
 * room or participant). Logged without the caller's data.
 */
export async function outside<T>(
  c: Context<AppBindings>,
  service: OutsideService,
  what: string,
  fn: () => Promise<T>,
  missing?: string,
): Promise<T> {
  try {
    return await guarded(c.var.deps, service, fn);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (
      missing !== undefined && (error instanceof StorageObjectMissing || error instanceof VideoNotFoundError)
    ) {
      throw notFound(missing);
    }
    throw unavailable(c, service, what, error);
  }
}

function unavailable(c: Context<AppBindings>, service: OutsideService, what: string, error: unknown) {
  const retryAfter = error instanceof OutsideUnavailableError
    ? error.retryAfterSeconds
    : RETRY_AFTER_SECONDS[service];
  if (error instanceof OutsideUnavailableError && error.reason === "breaker_open") {
    c.var.log.warn(`${what} skipped`, { service, reason: error.reason });
  } else {
    c.var.log.error(`${what} failed`, { service, ...describeError(error) });
  }
  return new ApiError("SRV_002", `${NAMES[service]} no está disponible, vuelve a intentarlo`, {
    headers: { "Retry-After": String(Math.max(1, retryAfter)) },
    cause: error,
  });
}
