/**
 * The API's appointment list query for the doctor (listQuery, first page of
 * 50), straight to the database through shared/db/postgres.ts, three ways:
 *
 * - as the caller under row-level security (queryAsCaller) with no explicit
 *   filter: RLS alone narrows;
 * - the same with the doctor filter written explicitly, exactly as
 *   GET /v1/appointments sends it for a doctor;
 * - as service_role (asService, RLS bypassed) with the doctor filter explicit.
 *
 * Each has a Database of its own, created alike (one connection, prepared
 * statements): same transport, but no prepared statement, hence no plan
 * cache, shared between roles. queryAsCaller is one round trip (begin, session
 * check, query and commit pipelined); asService is two (its commit waits).
 * Every size's paths run in the same alternating rounds.
 */
import { decodeJwt } from "jose";
import type { Claims } from "../shared/db/database.ts";
import { createPostgresDatabase } from "../shared/db/postgres.ts";
import { listQuery } from "../shared/modules/appointments/appointments.queries.ts";
import { alternateCalls } from "./lib/load.ts";
import type { QueryResult } from "./lib/report.ts";
import { summarize } from "./lib/stats.ts";

export interface QuerySettings {
  calls: number;
  warmup: number;
}

/** The verified claims of an access token (it comes from the real login, so its session exists). */
export function claimsOf(token: string): Claims {
  return decodeJwt<Claims>(token);
}

/** The first page of 50 (51 rows: one more tells whether a next page exists). */
const firstPage = (doctorId?: string) => listQuery({ doctorId }, 50);

/**
 * service_role may not execute app.doctor_directory(), which the list joins
 * (permission denied): granted here, in the bench's throwaway database only.
 * Its claims are set too, so that the directory (which answers only a
 * signed-in caller) yields the same doctor names as under RLS.
 */
const GRANT_DIRECTORY = "grant execute on function app.doctor_directory() to service_role";
const SET_CLAIMS = "select set_config('request.jwt.claims', $1, true)";

/** The three paths for one database; their answers checked equal. */
async function openPaths(databaseUrl: string, claims: Claims) {
  const open = () => createPostgresDatabase({ url: databaseUrl, poolSize: 1 });
  const [caller, callerFiltered, service] = [open(), open(), open()];
  const calls = [
    () => caller.queryAsCaller(claims, firstPage().sql, firstPage().params),
    () => callerFiltered.queryAsCaller(claims, firstPage(claims.sub).sql, firstPage(claims.sub).params),
    () =>
      service.asService(async (tx) => {
        const [, rows] = await Promise.all([
          tx.query(SET_CLAIMS, [JSON.stringify(claims)]),
          tx.query(firstPage(claims.sub).sql, firstPage(claims.sub).params),
        ]);
        return rows;
      }),
  ];
  const close = () => Promise.all([caller.close(), callerFiltered.close(), service.close()]);
  try {
    await service.queryAsOwner(GRANT_DIRECTORY);
    const answers = await Promise.all(calls.map((call) => call()));
    const expected = JSON.stringify(answers[0]);
    if (answers[0].length === 0 || answers.some((rows) => JSON.stringify(rows) !== expected)) {
      throw new Error(`the three paths answered differently: ${answers.map((rows) => rows.length)} rows`);
    }
    return { calls, answered: answers[0].length, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Every size's three paths in the same alternating rounds. */
export async function measureRlsVsService(
  sizes: Array<{ rows: number; databaseUrl: string; claims: Claims }>,
  settings: QuerySettings,
): Promise<QueryResult[]> {
  const opened: Array<Awaited<ReturnType<typeof openPaths>>> = [];
  try {
    for (const size of sizes) opened.push(await openPaths(size.databaseUrl, size.claims));
    const latencies = await alternateCalls(opened.flatMap((paths) => paths.calls), {
      count: settings.calls,
      warmup: settings.warmup,
    });
    return sizes.map((size, i) => ({
      rows: size.rows,
      caller: summarize(latencies[3 * i]),
      callerFiltered: summarize(latencies[3 * i + 1]),
      service: summarize(latencies[3 * i + 2]),
      answered: opened[i].answered,
    }));
  } finally {
    for (const paths of opened) await paths.close();
  }
}
