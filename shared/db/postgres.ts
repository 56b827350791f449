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

/** A server reached over TCP through postgres.js. */
export function createPostgresDatabase(options: PostgresOptions): Database {
  const prepare = options.prepare ?? true;
  const max = options.poolSize ?? 10;
  const poolWaitMs = options.poolWaitMs ?? 3_000;
  const sql = postgres(withoutPoolerFlag(options.url), {
    max,
    prepare,
    connect_timeout: options.connectTimeoutSeconds ?? 5,
    // postgres.js's own backoff grows to 20 s while the server is down, which
    // would delay the recovery by as much once it is back: at most 0.5 s here.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
    onnotice: () => {},
    connection: { application_name: "consultorio" },
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
      if (lost) return; // the pool reconnects it when it is next needed
      if (connection) connection.onclose = null;
      conn.release();
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
      } catch (error) {
        await conn.unsafe("rollback").catch(() => {});
        throw error;
      } finally {
        conn.release();
      }
    },

    async queryAsOwner<T = Row>(text: string, params: readonly unknown[] = []) {
      return rows<T>(await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare }));
    },

    async listen(channel, onNotify) {
      const { unlisten } = await sql.listen(channel, onNotify);
      return unlisten;
    },

    async ping() {
      await sql`select 1`;
    },

    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}
