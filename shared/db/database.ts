/**
 * One small interface over the two drivers (postgres.js for a server URL,
 * PGlite in-process), so that the same code and the same migrations run on
 * both.
 */

export type Row = Record<string, unknown>;

/**
 * Something SQL can be sent to: a transaction, or a connection.
 *
 * Parameters: send JSON and exact timestamps as text and cast in SQL
 * (`$1::text::jsonb`, `$2::text::timestamptz`). postgres.js serializes by the
 * server's idea of a parameter's type: it would JSON-encode a string again for
 * jsonb, and round a timestamptz to JavaScript's milliseconds.
 */
export interface Queryable {
  query<T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/** The verified JWT claims of the caller, as `auth.jwt()` will see them. */
export type Claims = Record<string, unknown> & { sub: string; jti: string };

export interface Database {
  readonly driver: "pglite" | "postgres";

  /**
   * One transaction as the caller: the session is checked and the claims and
   * `role authenticated` are set before `fn` runs, so row-level security
   * decides what every statement in `fn` sees and changes.
   */
  asCaller<T>(claims: Claims, fn: (tx: Queryable) => Promise<T>): Promise<T>;

  /**
   * One statement as the caller, in a transaction of its own. On a server
   * the begin, the session check, the statement and the commit are pipelined:
   * one round trip.
   */
  queryAsCaller<T = Row>(claims: Claims, sql: string, params?: readonly unknown[]): Promise<T[]>;

  /**
   * The privileged path: a transaction as `service_role`, which bypasses
   * row-level security. Only `*.privileged.ts` files may call it.
   */
  asService<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;

  /**
   * Tooling only (the local stand-in for Supabase's Storage and Realtime):
   * one transaction as a Supabase role with these claims, exactly as
   * Supabase's own services run a request — no session check.
   */
  asRole<T>(
    role: "anon" | "authenticated" | "service_role",
    claims: Record<string, unknown>,
    fn: (tx: Queryable) => Promise<T>,
  ): Promise<T>;

  /**
   * Tooling only (migrations, seed, tests): a script of several statements,
   * or one statement, as the connection's own role, outside row-level
   * security. Product code never calls these.
   */
  execScript(sql: string): Promise<void>;
  queryAsOwner<T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;

  /**
   * Calls `onNotify` for every NOTIFY on `channel` (delivered on commit), and
   * `onListen` each time the LISTEN is in place: first, and again after its
   * connection was lost and came back (a server restarted). Notifications
   * sent in between are gone: `onListen` is where to catch up.
   */
  listen(
    channel: string,
    onNotify: (payload: string) => void,
    onListen?: () => void,
  ): Promise<() => Promise<void>>;

  /** Answers whether the database is reachable. */
  ping(): Promise<void>;

  close(): Promise<void>;
}

// The claims travel as text: postgres.js would JSON-encode a string sent as jsonb a second time.
export const START_REQUEST_SQL = "select private.start_request($1::text::jsonb, $2::text)";

/**
 * The `kid` of the key that signed a caller's token (absent: the HS256
 * secret). It is in the token's header, not its claims, so it travels beside
 * them: the session row is bound to it (private.start_request).
 */
const signingKeyIds = new WeakMap<Claims, string>();

/** Records which key signed the token these verified claims came from. */
export function bindSigningKey<T extends Claims>(claims: T, kid: string | undefined): T {
  if (kid) signingKeyIds.set(claims, kid);
  return claims;
}

/** The parameters of START_REQUEST_SQL for these claims. */
export function startRequestParams(claims: Claims): [string, string | null] {
  return [JSON.stringify(claims), signingKeyIds.get(claims) ?? null];
}
export const AS_SERVICE_SQL = "set local role service_role";
export const AS_ROLE_SQL =
  "select set_config('request.jwt.claims', $2::text, true), set_config('role', $1::text, true)";

/**
 * The database cannot be reached (refused, timed out, shut down, connection
 * lost) or no pooled connection came free in time: a temporary condition,
 * answered 503 SRV_003 with Retry-After.
 */
export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";

  constructor(readonly reason: "pool_timeout" | "pool_full", message: string) {
    super(message);
  }
}

/** postgres.js's own connection errors, and the socket's. */
const CONNECTION_ERRORS = new Set([
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * Whether the error says the database is out of reach for now rather than
 * that the request is wrong: refused or timed-out connections, a connection
 * lost, the server shutting down or starting up (57P01-57P03), a connection
 * exception (08xxx), too many connections (53300), PGlite closed, or no
 * pooled connection free in time.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  if (error instanceof Deno.errors.ConnectionRefused || error instanceof Deno.errors.ConnectionReset) {
    return true;
  }
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (CONNECTION_ERRORS.has(code)) return true;
    if (/^08[0-9A-Z]{3}$/.test(code) || ["57P01", "57P02", "57P03", "53300"].includes(code)) return true;
  }
  return error instanceof Error && error.message === "PGlite is closed";
}

/** The error of a statement not sent because its transaction's connection was lost. */
export function connectionLost(): Error {
  return Object.assign(new Error("the connection was lost mid-transaction"), { code: "CONNECTION_CLOSED" });
}
