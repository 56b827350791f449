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

  /** Calls `onNotify` for every NOTIFY on `channel` (delivered on commit). */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;

  /** Answers whether the database is reachable. */
  ping(): Promise<void>;

  close(): Promise<void>;
}

// The claims travel as text: postgres.js would JSON-encode a string sent as jsonb a second time.
export const START_REQUEST_SQL = "select private.start_request($1::text::jsonb)";
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
