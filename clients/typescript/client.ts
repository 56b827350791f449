/**
 * A typed fetch client of the Consultorio API: paths, bodies, answers and
 * errors come from schema.d.ts (generated from the OpenAPI document by
 * `deno task client`), the calls from openapi-fetch.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.d.ts";

export type { components, paths };
export type ProblemDetails = components["schemas"]["ProblemDetails"];

export interface ClientOptions {
  /** The project's Edge Functions URL: http://127.0.0.1:54321/functions/v1 locally. */
  functionsUrl: string;
  /** The accessToken of POST /api/v1/auth/login, sent as a bearer token. */
  accessToken?: string | (() => string | undefined);
  fetch?: typeof fetch;
}

export function createConsultorioClient(options: ClientOptions) {
  const client = createClient<paths>({
    baseUrl: options.functionsUrl.replace(/\/$/, ""),
    fetch: options.fetch,
  });
  const bearer: Middleware = {
    onRequest({ request }) {
      const token = typeof options.accessToken === "function" ? options.accessToken() : options.accessToken;
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  };
  client.use(bearer);
  return client;
}

export type ConsultorioClient = ReturnType<typeof createConsultorioClient>;
