import postgres from "postgres";
import {
  AS_ROLE_SQL,
  AS_SERVICE_SQL,
  type Claims,
  connectionLost,
  type Database,
  DatabaseUnavailableError,
  isDatabaseUnavailable,
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
  /** Seconds to wait for a new connection (postgres.js's connect_timeout; its default is 30). */
  connectTimeoutSeconds?: number;
  /**
   * How long a transaction waits for a pooled connection. Past it, or with
   * ten pools' worth already waiting, it fails at once
   * (DatabaseUnavailableError): a quick 503 rather than a growing queue.
   */
  poolWaitMs?: number;
}

type Reserved = postgres.ReservedSql;

/** `pgbouncer=true` tells us about the pooler; postgres.js would send it to the server as a setting. */
function withoutPoolerFlag(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.searchParams.has("pgbouncer")) return url;
    parsed.searchParams.delete("pgbouncer");
    return parsed.toString();
  } catch {
    return url;
  }
}

/** How long a connection that was lost stays out of the pool: past its socket's close. */
const LOST_QUARANTINE_MS = 200;

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
  const max = options.poolSize ?? 10;
  const poolWaitMs = options.poolWaitMs ?? 3_000;
  const pool = () =>
    postgres(withoutPoolerFlag(options.url), {
      max,
      prepare,
      connect_timeout: options.connectTimeoutSeconds ?? 5,
      // postgres.js's own backoff grows to 20 s while the server is down, which
      // would delay the recovery by as much once it is back: at most 0.5 s here.
      backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
      onnotice: () => {},
      connection: { application_name: "consultorio" },
    });
  let sql = pool();
  const unregister = onPostgresDriverFault(() => {
    const jammed = sql;
    sql = pool();
    jammed.end({ timeout: 0 }).catch(() => {});
  });

  let waiting = 0;
  /** A pooled connection within poolWaitMs, or DatabaseUnavailableError. */
  async function reserve(): Promise<Reserved> {
    if (waiting >= max * 10) {
      throw new DatabaseUnavailableError("pool_full", "every pooled connection is busy and as many wait");
    }
    waiting++;
    const pending = sql.reserve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<undefined>((resolve) =>
      timer = setTimeout(() => resolve(undefined), poolWaitMs)
    );
    try {
      const conn = await Promise.race([pending, timedOut]);
      if (conn) return conn;
      // It may still come: give it back then.
      pending.then((late) => late.release(), () => {});
      throw new DatabaseUnavailableError("pool_timeout", `no pooled connection within ${poolWaitMs} ms`);
    } finally {
      waiting--;
      clearTimeout(timer);
    }
  }

  const rows = <T>(result: postgres.RowList<postgres.Row[]>) => Array.from(result) as T[];

  /**
   * A reserved connection for one transaction, watched for its loss.
   *
   * postgres.js does not tell a reserved connection's holder that the server
   * closed it, and writing to it afterwards throws from a timer, where nobody
   * can catch it (porsager/postgres#1208), or, once the pool has reconnected
   * it, runs the rest of the transaction outside it. So the connection's close
   * is watched (the `onexecute` hook its own `begin()` uses), and after it
   * nothing more is sent: every later statement fails as the connection's
   * loss (503), and the connection goes back to the pool only if it is alive.
   */
  async function pinned() {
    const conn = await reserve();
    let connection: { onclose: ((error: Error) => void) | null } | undefined;
    let lost: Error | undefined;
    const watch = (c: typeof connection) => {
      connection = c;
      c!.onclose = (error) => lost = error ?? connectionLost();
      return true;
    };
    const send = (text: string, params: readonly unknown[] = []) => {
      if (lost) return Promise.reject(lost);
      if (!connection) {
        return conn.unsafe(text, params as postgres.ParameterOrJSON<never>[], {
          prepare,
          onexecute: watch,
        } as postgres.UnsafeQueryOptions);
      }
      return params.length === 0
        ? conn.unsafe(text)
        : conn.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare });
    };
    /** Rolls back after `error` when the connection can still take it, and gives the connection back. */
    const done = async (error?: unknown) => {
      if (error !== undefined && !lost && !isDatabaseUnavailable(error)) {
        await conn.unsafe("rollback").catch(() => {});
      }
      if (connection) connection.onclose = null;
      // A lost connection goes back only once its close is through (LOST_QUARANTINE_MS); the pool
      // reconnects it when it is next reserved. Kept out for good, every restart would shrink the pool.
      if (lost || (error !== undefined && isDatabaseUnavailable(error))) {
        setTimeout(() => conn.release(), LOST_QUARANTINE_MS);
      } else conn.release();
    };
    return { send, done };
  }

  /**
   * Sends the opening statements without waiting, then runs `fn`; its first
   * statement goes out in the same write. If an opening statement fails (a
   * revoked session), what follows fails too and the commit rolls back.
   */
  async function transaction<T>(
    opening: Array<[string, readonly unknown[]]>,
    fn: (tx: Queryable) => Promise<T>,
  ): Promise<T> {
    const { send, done } = await pinned();
    try {
      const openingResults = [send("begin"), ...opening.map(([t, p]) => send(t, p))];
      const tx: Queryable = {
        query: async <R = Row>(text: string, params?: readonly unknown[]) =>
          rows<R>(await send(text, params)),
      };
      const outcome = Promise.allSettled([Promise.all(openingResults), fn(tx)]);
      const [opened, ran] = await outcome;
      if (opened.status === "rejected") throw opened.reason;
      if (ran.status === "rejected") throw ran.reason;
      // COMMIT of a transaction that failed answers ROLLBACK; a lost
      // connection rejects. Either way it is not a success.
      const committed = await send("commit");
      if (committed.command !== "COMMIT") throw new Error("transaction did not commit");
      await done();
      return ran.value;
    } catch (error) {
      await done(error);
      throw error;
    }
  }

  return {
    driver: "postgres",

    asCaller: (claims, fn) => transaction([[START_REQUEST_SQL, startRequestParams(claims)]], fn),

    async queryAsCaller<T = Row>(claims: Claims, text: string, params: readonly unknown[] = []) {
      const { send, done } = await pinned();
      try {
        const results = await Promise.allSettled([
          send("begin"),
          send(START_REQUEST_SQL, startRequestParams(claims)),
          send(text, params),
          send("commit"),
        ]);
        const failure = results.find((r) => r.status === "rejected");
        if (failure) throw (failure as PromiseRejectedResult).reason;
        const committed = results[3] as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>;
        if (committed.value.command !== "COMMIT") throw new Error("transaction did not commit");
        await done();
        return rows<T>((results[2] as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>).value);
      } catch (error) {
        await done(error);
        throw error;
      }
    },

    asService: (fn) => transaction([[AS_SERVICE_SQL, []]], fn),

    asRole: (role, claims, fn) => transaction([[AS_ROLE_SQL, [role, JSON.stringify(claims)]]], fn),

    async execScript(script) {
      const conn = await reserve();
      try {
        await conn.unsafe(script).simple();
        conn.release();
      } catch (error) {
        // A lost connection takes no rollback and goes back once its close is through.
        if (isDatabaseUnavailable(error)) {
          setTimeout(() => conn.release(), LOST_QUARANTINE_MS);
        } else {
          await conn.unsafe("rollback").catch(() => {});
          conn.release();
        }
        throw error;
      }
    },

    async queryAsOwner<T = Row>(text: string, params: readonly unknown[] = []) {
      return rows<T>(await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare }));
    },

    listen: (channel, onNotify, onListen) =>
      superviseListen(withoutPoolerFlag(options.url), channel, onNotify, onListen),

    async ping() {
      await sql`select 1`;
    },

    async close() {
      unregister();
      await sql.end({ timeout: 5 });
    },
  };
}
