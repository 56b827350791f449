/**
 * Runs generated requests (./requests.ts) against a running test stack and
 * checks each answer: never a 5xx; every 4xx a ProblemDetails; a field at
 * fault named in `errors`; no token → 401; and no row written by a refused
 * request (a fingerprint of every table's row count and newest xmin, taken
 * before and after).
 */
import fc from "fast-check";
import { SignJWT } from "jose";
import { book, registerPatient, specialtyOf } from "../helpers/clinic.ts";
import { call, createUser, type TestStack, type TestUser } from "../helpers/stack.ts";
import { type FuzzRequest, operationsOf, requestFor, type Role } from "./requests.ts";

const TRACE = Deno.env.get("FUZZ_TRACE") === "1";

/** Operations whose valid call would end the fuzzer's own sessions: sent only without a token. */
const SELF_REVOKING = new Set(["POST /v1/auth/logout"]);

export interface FuzzReport {
  requests: number;
  byStatus: Record<string, number>;
  byFault: Record<string, number>;
  operations: number;
  /** Requests after which an actor's valid token was refused (401), and so was renewed. */
  renewedSessions: string[];
  failure?: string;
}

export async function fuzz(s: TestStack, options: { numRuns: number; seed?: number }): Promise<FuzzReport> {
  const doc = await (await fetch(s.api("/openapi.json"))).json();
  const operations = operationsOf(doc).filter((op) => !SELF_REVOKING.has(`${op.method} ${op.path}`));
  const actors = await Actors.create(s);
  const pool = { ids: await actors.fixtureIds() };
  const fingerprint = await tableFingerprint(s);
  const report: FuzzReport = {
    requests: 0,
    byStatus: {},
    byFault: {},
    operations: operations.length,
    renewedSessions: [],
  };

  // Every operation gets its share: the operation is drawn first, then a request for it.
  const arbitrary = fc.constantFrom(...operations).chain((op) => requestFor(op, pool));
  let before = await fingerprint();
  const property = fc.asyncProperty(arbitrary, async (request) => {
    if (TRACE) console.error(`→ ${request.method} ${request.path} ${JSON.stringify(request.fault)}`);
    const res = await send(s, request, await actors.tokenFor(request));
    if (TRACE) console.error(`← ${res.status}`);
    report.requests++;
    report.byStatus[res.status] = (report.byStatus[res.status] ?? 0) + 1;
    const faultName = request.fault.kind === "none" ? "valid" : `${request.fault.kind}: ${request.fault.how}`;
    report.byFault[faultName] = (report.byFault[faultName] ?? 0) + 1;

    const after = await fingerprint();
    const written = Object.keys(after).filter((table) => after[table] !== before[table]);
    before = after;
    check(request, res, written);
    // A public operation's 401 is about the credentials in its body, not the caller's session.
    if (res.status === 401 && request.token === "valid" && request.role && !request.operation.isPublic) {
      report.renewedSessions.push(`${request.method} ${request.path}`);
      await actors.renew(request.role);
      before = await fingerprint();
    }
  });
  const result = await fc.check(property, {
    numRuns: options.numRuns,
    seed: options.seed,
    endOnFailure: true,
  });
  if (result.failed) {
    const error = result.errorInstance;
    report.failure = `${error instanceof Error ? error.message : String(error)}\n(seed ${result.seed})`;
  }
  return report;
}

interface Answer {
  status: number;
  contentType: string;
  // deno-lint-ignore no-explicit-any
  body: any;
}

async function send(s: TestStack, request: FuzzRequest, token: string | undefined): Promise<Answer> {
  const headers = { ...request.headers };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(s.api(request.path), { method: request.method, headers, body: request.body });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch { /* not JSON: the checks say so */ }
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", body };
}

function describe(request: FuzzRequest, res: Answer): string {
  const body = request.body && request.body.length > 300 ? request.body.slice(0, 300) + "…" : request.body;
  return `${request.method} ${request.path} as ${request.role ?? "nobody"} (${request.token} token), ` +
    `fault ${JSON.stringify(request.fault)}, body ${body}\n→ ${res.status} ${JSON.stringify(res.body)}`;
}

function check(request: FuzzRequest, res: Answer, written: string[]) {
  const fail = (why: string) => {
    throw new Error(`${why}\n${describe(request, res)}`);
  };
  if (res.status >= 500) fail("a 5xx answer");
  // The FHIR routes answer FHIR's error shape, an OperationOutcome (a 401 before them stays ProblemDetails).
  const fhir = request.path.startsWith("/v1/fhir/") && res.status !== 401;
  if (res.status >= 400 && fhir) {
    if (!res.contentType.startsWith("application/fhir+json")) fail("a FHIR 4xx that is not FHIR JSON");
    const o = res.body;
    if (o?.resourceType !== "OperationOutcome" || !Array.isArray(o.issue) || o.issue.length === 0) {
      fail("a FHIR 4xx that is not an OperationOutcome");
    }
    if (written.length > 0) fail(`a refused request wrote to ${written.join(", ")}`);
  } else if (res.status >= 400) {
    if (!res.contentType.startsWith("application/problem+json")) fail("a 4xx that is not a ProblemDetails");
    const p = res.body;
    if (p?.status !== res.status || !/^[A-Z]+_\d{3}$/.test(p?.code ?? "")) fail("a malformed ProblemDetails");
    for (const key of ["type", "title", "detail", "timestamp"]) {
      if (typeof p[key] !== "string") fail(`ProblemDetails without ${key}`);
    }
    if (written.length > 0) fail(`a refused request wrote to ${written.join(", ")}`);
  }
  switch (request.fault.kind) {
    case "auth":
      if (res.status !== 401) fail("a request without a valid token was not 401");
      break;
    case "body":
      if (res.status < 400 || res.status >= 500) fail("a broken body was not refused with a 4xx");
      break;
    case "field": {
      if (res.status !== 400) fail(`a bad ${request.fault.field} was not refused with 400`);
      const field = request.fault.field;
      // VAL_002 is for a missing field only (decision 12); a missing one may be VAL_001 when the
      // generated request has a second, invalid fault.
      if (!fhir && res.body.code === "VAL_002" && request.fault.how !== "missing") {
        fail(`a ${request.fault.how} ${field} was VAL_002`);
      }
      const named =
        (fhir
          ? (res.body.issue ?? []).flatMap((i: { expression?: string[] }) => i.expression ?? [])
          : (res.body.errors ?? []).map((e: { field: string }) => e.field)) as string[];
      // Generated query values can break rules the schema cannot express (a range over 31 days, say),
      // so a 400 naming a query parameter instead is a right answer to a request with two faults.
      const queryParams = request.operation.query.map((q) => q.name);
      const namesField = (n: string) => n === field || n.startsWith(`${field}.`) || n.startsWith(`${field}[`);
      if (!named.some((n) => namesField(n) || queryParams.includes(n))) {
        fail(`the 400 does not name ${field}`);
      }
    }
  }
}

/**
 * The fuzzer's users, one per role, and the rows valid requests aim at. The
 * actors' own ids stay out of the pool, so that no generated request ends
 * the fuzzer's sessions; a token that stops working anyway is renewed.
 */
class Actors {
  private constructor(private s: TestStack, private users: Record<Role, TestUser>) {}

  static async create(s: TestStack) {
    const [admin, doctor, patient] = await Promise.all([
      createUser(s, "admin"),
      createUser(s, "doctor"),
      createUser(s, "patient"),
    ]);
    return new Actors(s, { admin, doctor, patient });
  }

  /** A second doctor and patients with appointments (one with a clinic history): real targets. */
  async fixtureIds(): Promise<string[]> {
    const { admin } = this.users;
    const otherDoctor = await createUser(this.s, "doctor");
    const patient = await registerPatient(this.s, admin, "Fuzz");
    const specialtyId = await specialtyOf(this.s, otherDoctor);
    const ids = [otherDoctor.id, patient.id, specialtyId];
    for (const [doctor, day] of [[otherDoctor, 3], [this.users.doctor, 4]] as const) {
      const start = new Date(Date.now() + day * 86_400_000);
      start.setUTCHours(12, 0, 0, 0);
      const booked = await book(this.s, admin.token, {
        patientId: patient.id,
        doctorId: doctor.id,
        specialtyId,
        start: start.toISOString(),
        end: new Date(start.getTime() + 1_800_000).toISOString(),
      });
      if (booked.status === 201) ids.push(booked.body.data.id);
      const consultation = await call(this.s, "POST", "/v1/consultations", {
        token: doctor.token,
        body: { appointmentId: booked.body.data?.id },
      });
      if (consultation.status === 201) ids.push(consultation.body.data.id);
    }
    return ids;
  }

  async tokenFor(request: FuzzRequest): Promise<string | undefined> {
    if (request.token === "missing" || !request.role) return undefined;
    const user = this.users[request.role];
    if (request.token === "valid") return user.token;
    // Forged: the right shape and claims, signed with a key that is not the project's.
    return await new SignJWT({ role: "authenticated", user_role: user.role, phone: user.phone })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(user.id)
      .setJti(crypto.randomUUID())
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(crypto.getRandomValues(new Uint8Array(32)));
  }

  async renew(role: Role) {
    this.users[role] = await createUser(this.s, role);
  }
}

/**
 * A function answering, per table of the product's schemas, a text that
 * changes whenever one of its rows is written (row count and newest xmin).
 */
async function tableFingerprint(s: TestStack): Promise<() => Promise<Record<string, string>>> {
  const tables = await s.stack.deps.db.queryAsOwner<{ name: string }>(
    `select format('%I.%I', table_schema, table_name) as name
       from information_schema.tables
      where table_schema in ('public', 'storage', 'auth') and table_type = 'BASE TABLE'
      order by 1`,
  );
  const sql = "select json_build_object(" +
    tables.map((t) =>
      `'${t.name}', (select count(*) || ':' || coalesce(max(xmin::text::bigint), 0) from ${t.name})`
    ).join(", ") + ")::text as fingerprint";
  return async () => {
    const [row] = await s.stack.deps.db.queryAsOwner<{ fingerprint: string }>(sql);
    return JSON.parse(row.fingerprint);
  };
}
