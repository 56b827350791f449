import postgres from "postgres";
import {
  AS_ROLE_SQL,
  AS_SERVICE_SQL,
  type Claims,
  type Database,
  DatabaseUnavailableError,
  type Queryable,
  type Row,
  START_REQUEST_SQL,
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
    const conn = await reserve();
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
      // COMMIT of a transaction that failed answers ROLLBACK; a lost
      // connection rejects. Either way it is not a success.
      const committed = await conn.unsafe("commit");
      if (committed.command !== "COMMIT") throw new Error("transaction did not commit");
      return ran.value;
    } catch (error) {
      await conn.unsafe("rollback").catch(() => {});
      throw error;
    } finally {
      conn.release();
    }
  }

  return {
    driver: "postgres",

    asCaller: (claims, fn) => transaction([[START_REQUEST_SQL, [JSON.stringify(claims)]]], fn),

    async queryAsCaller<T = Row>(claims: Claims, text: string, params: readonly unknown[] = []) {
      const conn = await reserve();
      try {
        const results = await Promise.allSettled([
          send(conn, "begin"),
          send(conn, START_REQUEST_SQL, [JSON.stringify(claims)]),
          send(conn, text, params),
          send(conn, "commit"),
        ]);
        const failure = results.find((r) => r.status === "rejected");
        if (failure) throw (failure as PromiseRejectedResult).reason;
        const committed = results[3] as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>;
        if (committed.value.command !== "COMMIT") throw new Error("transaction did not commit");
        return rows<T>((results[2] as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>).value);
      } catch (error) {
        await conn.unsafe("rollback").catch(() => {});
        throw error;
      } finally {
        conn.release();
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
