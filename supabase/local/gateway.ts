/**
 * The local gateway, shaped like a Supabase project's API URL:
 * /functions/v1/<name>/* reaches the function as /<name>/*, as Supabase's
 * edge gateway does. Storage and Realtime join it under /storage/v1 and
 * /realtime/v1; the LiveKit stand-in at /twirp/* (where LiveKit serves its
 * server API, so LIVEKIT_URL can be the gateway's address); the OpenAI
 * stand-in at /openai/v1/* (OPENAI_BASE_URL) and the Twilio stand-in at
 * /2010-04-01/* (TWILIO_API_URL, when a test selects it). The project's
 * JWKS is served where Supabase Auth serves it, and publishable and secret
 * API keys are swapped for JWTs on the way to Storage and Realtime
 * (api-keys.ts), as the platform's gateway does.
 */
import type { JWK } from "jose";
import type { ApiKeyExchange } from "./api-keys.ts";

export type FetchHandler = (request: Request) => Response | Promise<Response>;

export interface GatewayOptions {
  functions: Record<string, FetchHandler>;
  /** Supabase Storage's HTTP API, reached at /storage/v1/*. */
  storage?: FetchHandler;
  /** Supabase Realtime, reached at /realtime/v1/* (given the original request, for the WebSocket upgrade). */
  realtime?: FetchHandler;
  /** The LiveKit stand-in's Twirp API, reached at /twirp/*. */
  livekit?: FetchHandler;
  /** The OpenAI stand-in's Chat Completions API, reached at /openai/v1/*. */
  openai?: FetchHandler;
  /** The Twilio stand-in's Messages API, reached at /2010-04-01/*. */
  twilio?: FetchHandler;
  /** The project's JWKS (public keys only), at /auth/v1/.well-known/jwks.json. */
  jwks?: { keys: JWK[] };
  /** Publishable and secret keys, exchanged for JWTs before Storage and Realtime see them. */
  apiKeys?: ApiKeyExchange;
}

const JWKS_PATHS = new Set(["/auth/v1/.well-known/jwks.json", "/auth/v1/jwks"]);

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

export function createGateway(options: GatewayOptions) {
  return (request: Request, info?: Deno.ServeHandlerInfo): Response | Promise<Response> => {
    const url = new URL(request.url);
    const match = /^\/functions\/v1\/([a-z0-9_-]+)(\/.*)?$/i.exec(url.pathname);
    if (match) {
      const fn = options.functions[match[1]];
      if (!fn) return json(404, { code: "NOT_FOUND", message: "Requested function was not found" });
      url.pathname = `/${match[1]}${match[2] ?? ""}`;
      const headers = new Headers(request.headers);
      const remote = info?.remoteAddr.transport === "tcp" ? info.remoteAddr.hostname : undefined;
      if (remote) {
        const prior = headers.get("X-Forwarded-For");
        headers.set("X-Forwarded-For", prior ? `${prior}, ${remote}` : remote);
      }
      return fn(
        new Request(url, { method: request.method, headers, body: request.body }),
      );
    }
    if (JWKS_PATHS.has(url.pathname) && options.jwks && request.method === "GET") {
      return new Response(JSON.stringify(options.jwks), {
        headers: {
          "Content-Type": "application/json",
          "Cache-Control": "public, max-age=600",
          "Access-Control-Allow-Origin": "*",
        },
      });
    }
    if (url.pathname.startsWith("/storage/v1/") && options.storage) {
      return withApiKey(request, options.apiKeys, options.storage);
    }
    if (url.pathname.startsWith("/realtime/v1/") && options.realtime) {
      // The socket's upgrade needs the original request: Realtime exchanges its key itself.
      if (request.headers.get("upgrade")?.toLowerCase() === "websocket") return options.realtime(request);
      return withApiKey(request, options.apiKeys, options.realtime);
    }
    if (url.pathname.startsWith("/twirp/") && options.livekit) return options.livekit(request);
    if (url.pathname.startsWith("/openai/v1/") && options.openai) return options.openai(request);
    if (url.pathname.startsWith("/2010-04-01/") && options.twilio) return options.twilio(request);
    if (url.pathname === "/" || url.pathname === "") {
      return json(200, {
        name: "Consultorio local stack",
        functions: Object.keys(options.functions).map((name) => `/functions/v1/${name}`),
        docs: "/functions/v1/api/docs",
      });
    }
    return json(404, { code: "NOT_FOUND", message: "Route not found" });
  };
}

async function withApiKey(
  request: Request,
  apiKeys: ApiKeyExchange | undefined,
  service: FetchHandler,
): Promise<Response> {
  const forwarded = apiKeys ? await apiKeys.forward(request) : request;
  return forwarded instanceof Response ? forwarded : await service(forwarded);
}
