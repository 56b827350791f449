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

/** A server reached over TCP through postgres.js. */
export function createPostgresDatabase(options: PostgresOptions): Database {
  const prepare = options.prepare ?? true;
  const sql = postgres(options.url, {
    max: options.poolSize ?? 10,
    prepare,
    onnotice: () => {},
    connection: { application_name: "consultorio" },
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
      const conn = await sql.reserve();
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
