import postgres from "postgres";
import {
  AS_ROLE_SQL,
  AS_SERVICE_SQL,
  type Claims,
  type Database,
  type Queryable,
  type Row,
  START_REQUEST_SQL,
  startRequestParams,
} from "./database.ts";
import { onPostgresDriverFault } from "./postgres-fault.ts";

export interface PostgresOptions {
  url: string;
  poolSize?: number;
  /**
   * Prepared statements let postgres.js pipeline a parameterized query
   * without first asking the server for its parameter types. Turn them off
   * behind a transaction-mode pooler, which cannot keep them.
   */
  prepare?: boolean;
}

type Reserved = postgres.ReservedSql;

/**
 * The connection is gone (server shut down or restarting, socket closed):
 * the server has ended the transaction already.
 */
const LOST = /^(CONNECTION_|CONNECT_TIMEOUT$|ECONN|EPIPE$|57P0|08)/;

/** How long a connection that was lost stays out of the pool: past its socket's close. */
const LOST_QUARANTINE_MS = 200;

/**
 * Ends a reserved connection's failed transaction and gives it back. A lost
 * one gets no rollback, and goes back only once its close is through:
 * postgres.js 3.4.9 writes from a setImmediate to a socket its close has
 * nulled meanwhile, an uncaught TypeError that ends the process
 * (porsager/postgres#1208, denoland/deno#34667). A rollback written to it, or
 * the next transaction's begin on it, would race that close.
 */
async function abandon(conn: Reserved, error: unknown) {
  if (LOST.test(String((error as { code?: unknown })?.code ?? ""))) {
    setTimeout(() => conn.release(), LOST_QUARANTINE_MS);
    return;
  }
  await conn.unsafe("rollback").catch(() => {});
  conn.release();
}

const RELISTEN_FIRST_MS = 50;
const RELISTEN_MAX_MS = 1_000;

/**
 * LISTEN on a connection of its own, kept: when it closes (the server
 * restarted), it is opened again, retrying with a capped backoff, and
 * `onListen` says so. postgres.js's own `sql.listen` re-listens once on
 * close and gives up silently if the server is still down.
 */
async function superviseListen(
  url: string,
  channel: string,
  onNotify: (payload: string) => void,
  onListen?: () => void,
): Promise<() => Promise<void>> {
  let stopped = false;
  let current: postgres.Sql | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let first: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  let restart = () => {};
  const unregister = onPostgresDriverFault(() => restart());

  const open = async (delay: number) => {
    timer = undefined;
    if (stopped) return;
    let lost = false;
    const retry = (next: number) => {
      if (lost || stopped) return;
      lost = true;
      conn.end({ timeout: 0 }).catch(() => {});
      timer = setTimeout(() => open(Math.min(next * 2, RELISTEN_MAX_MS)), next);
    };
    // `onnotify` is the hook postgres.js's own sql.listen uses; its types do not declare it.
    const hooks = {
      onnotify: (name: string, payload: string) => name === channel && !stopped && onNotify(payload),
      onclose: () => retry(RELISTEN_FIRST_MS),
    };
    const conn = postgres(url, {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      fetch_types: false,
      onnotice: () => {},
      connection: { application_name: "consultorio_listen" },
      ...hooks,
    });
    current = conn;
    restart = () => retry(RELISTEN_FIRST_MS);
    try {
      await conn.unsafe(`listen "${channel.replaceAll('"', '""')}"`);
    } catch (error) {
      if (first) {
        // The first LISTEN fails as the caller's error, as any query would.
        first.reject(error);
        first = undefined;
        lost = true;
        await conn.end({ timeout: 0 }).catch(() => {});
        return;
      }
      retry(delay);
      return;
    }
    if (lost || stopped) return;
    first?.resolve();
    first = undefined;
    onListen?.();
  };

  await new Promise<void>((resolve, reject) => {
    first = { resolve, reject };
    open(RELISTEN_FIRST_MS);
  }).catch((error) => {
    unregister();
    throw error;
  });
  return async () => {
    stopped = true;
    unregister();
    clearTimeout(timer);
    await current?.end({ timeout: 5 });
  };
}

/** A server reached over TCP through postgres.js. */
export function createPostgresDatabase(options: PostgresOptions): Database {
  const prepare = options.prepare ?? true;
  const pool = () =>
    postgres(options.url, {
      max: options.poolSize ?? 10,
      prepare,
      onnotice: () => {},
      connection: { application_name: "consultorio" },
    });
  let sql = pool();
  const unregister = onPostgresDriverFault(() => {
    const jammed = sql;
    sql = pool();
    jammed.end({ timeout: 0 }).catch(() => {});
  });

  const send = (conn: Reserved, text: string, params: readonly unknown[] = []) =>
    params.length === 0
      ? conn.unsafe(text)
      : conn.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare });

  const rows = <T>(result: postgres.RowList<postgres.Row[]>) => Array.from(result) as T[];

  /**
   * Sends the opening statements without waiting, then runs `fn`; its first
   * statement goes out in the same write. If an opening statement fails (a
   * revoked session), what follows fails too and the commit rolls back.
   */
  async function transaction<T>(
    opening: Array<[string, readonly unknown[]]>,
    fn: (tx: Queryable) => Promise<T>,
  ): Promise<T> {
    const conn = await sql.reserve();
    try {
      const openingResults = [send(conn, "begin"), ...opening.map(([t, p]) => send(conn, t, p))];
      const tx: Queryable = {
        query: async <R = Row>(text: string, params?: readonly unknown[]) =>
          rows<R>(await send(conn, text, params)),
      };
      const outcome = Promise.allSettled([Promise.all(openingResults), fn(tx)]);
      const [opened, ran] = await outcome;
      if (opened.status === "rejected") throw opened.reason;
      if (ran.status === "rejected") throw ran.reason;
      await conn.unsafe("commit");
      conn.release();
      return ran.value;
    } catch (error) {
      await abandon(conn, error);
      throw error;
    }
  }

  return {
    driver: "postgres",

    asCaller: (claims, fn) => transaction([[START_REQUEST_SQL, startRequestParams(claims)]], fn),

    async queryAsCaller<T = Row>(claims: Claims, text: string, params: readonly unknown[] = []) {
      const conn = await sql.reserve();
      try {
        const results = await Promise.allSettled([
          send(conn, "begin"),
          send(conn, START_REQUEST_SQL, startRequestParams(claims)),
          send(conn, text, params),
          send(conn, "commit"),
        ]);
        const failure = results.find((r) => r.status === "rejected");
        if (failure) throw (failure as PromiseRejectedResult).reason;
        const committed = results[3] as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>;
        if (committed.value.command !== "COMMIT") throw new Error("transaction did not commit");
        conn.release();
        return rows<T>((results[2] as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>).value);
      } catch (error) {
        await abandon(conn, error);
        throw error;
      }
    },

    asService: (fn) => transaction([[AS_SERVICE_SQL, []]], fn),

    asRole: (role, claims, fn) => transaction([[AS_ROLE_SQL, [role, JSON.stringify(claims)]]], fn),

    async execScript(script) {
      const conn = await sql.reserve();
      try {
        await conn.unsafe(script).simple();
        conn.release();
      } catch (error) {
        await abandon(conn, error);
        throw error;
      }
    },

    async queryAsOwner<T = Row>(text: string, params: readonly unknown[] = []) {
      return rows<T>(await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare }));
    },

    listen: (channel, onNotify, onListen) => superviseListen(options.url, channel, onNotify, onListen),

    async ping() {
      await sql`select 1`;
    },

    async close() {
      unregister();
      await sql.end({ timeout: 5 });
    },
  };
}
