/**
 * The FHIR export of a patient with many consultations
 * (GET /v1/fhir/Patient/{id}/$everything) against the plain REST reads a
 * client needs for the same data: the patient, their antecedents, their
 * appointments, their clinic histories (diagnoses, vitals, prescriptions
 * inside) and the consultations, one page of each (limit 200), one after the
 * other. Both through the real stack, as the patient's doctor, on a fresh
 * database of the bench's server; the export also through a counting proxy
 * (database round trips per export).
 *
 * Run alone: `deno run -A bench/fhir-export.ts` (a throwaway PostgreSQL
 * server, or DATABASE_URL's); `deno task bench` runs it as one of its cases.
 * Settings: BENCH_FHIR_CONSULTATIONS (100), BENCH_FHIR_REQUESTS (200).
 */
import { createBenchDatabase, prepareBenchData } from "./lib/database.ts";
import { alternateCalls } from "./lib/load.ts";
import { serverAddress, startRoundTripProxy, throughProxy } from "./lib/rt-proxy.ts";
import { summarize, type Summary } from "./lib/stats.ts";
import { startSecuredServer } from "./secured-get.ts";
import { createPostgresDatabase } from "../shared/db/postgres.ts";

export interface FhirExportResult {
  consultations: number;
  /** Resources in the export's Bundle. */
  resources: number;
  export: Summary;
  /** The REST reads of the same data, one after the other: the time of all of them. */
  rest: Summary;
  restRequests: number;
  /** Database round trips of one export (after warm-up). */
  exportRoundTrips: number;
  bytes: { export: number; rest: number };
}

export interface FhirExportSettings {
  consultations: number;
  requests: number;
  warmup: number;
}

/** One patient of the doctor with `n` past visits, each with a clinic history and a closed consultation. */
async function loadRecord(url: string, doctorId: string, n: number): Promise<string> {
  const db = createPostgresDatabase({ url, poolSize: 1 });
  try {
    // Setup as the owner: replica mode skips the triggers (the schedule's rules, the audit) while loading.
    const [patient] = await db.queryAsOwner<{ id: string }>(
      `with u as (
           insert into public.users (role, name, last_name, phone, email)
           values ('patient', 'Paciente', 'Fhir', '+5491199999999', 'fhir@bench.consultorio.dev') returning id
         )
         insert into public.patients (id, address, gender, birth_date, created_by)
         select id, 'Calle Falsa 123', 'female', '1980-01-01', $1 from u returning id`,
      [doctorId],
    );
    await db.execScript(`
      set session_replication_role = replica;
      insert into public.patient_antecedents (patient_id, allergies, medications, medical_history, family_history)
      values ('${patient.id}', '{Penicilina}', '{Losartán}', '{Hipertensión,Asma}', '{Diabetes}');
      with a as (
        insert into public.appointments (patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, status)
        select '${patient.id}', u.id, u.specialty_id, 'Control ' || i,
               now() - (i || ' days')::interval, now() - (i || ' days')::interval + interval '30 minutes',
               'COMPLETED'
          from generate_series(1, ${n}) i, public.users u where u.id = '${doctorId}'
        returning id, patient_id, doctor_id, specialty_id, starts_at
      ), c as (
        insert into public.consultations (appointment_id, doctor_id, patient_id, status, checked_in_at, started_at,
                                          closed_at)
        select id, doctor_id, patient_id, 'closed', starts_at, starts_at, starts_at + interval '25 minutes' from a
      ), h as (
        insert into public.clinic_histories (appointment_id, patient_id, doctor_id, specialty_id,
                                             consultation_reason, symptoms, treatment)
        select id, patient_id, doctor_id, specialty_id, 'Control de presión arterial', '{cefalea}',
               'Dieta hiposódica y control'
          from a returning id
      ), d as (
        insert into public.clinic_history_diagnostics (clinic_history_id, position, name, description)
        select id, 1, 'Hipertensión', 'Estadio 1' from h
      ), v as (
        insert into public.clinic_history_vital_signs (clinic_history_id, position, name, value, unit, measurement)
        select h.id, x.p, x.name, x.value, x.unit, 'en consulta'
          from h, (values (1, 'Presión arterial', '135/85', 'mmHg'), (2, 'Frecuencia cardíaca', '72', 'lpm'),
                          (3, 'Temperatura', '36.6', '°C')) as x(p, name, value, unit)
      ), p as (
        insert into public.prescriptions (clinic_history_id, name, description)
        select id, 'Receta', 'Antihipertensivo' from h returning id
      )
      insert into public.prescription_medications (prescription_id, position, name, quantity, unit, frequency,
                                                   duration, indications, administration_route)
      select id, 1, 'Enalapril', 30, 'comprimidos', 'Cada 12 horas', '30 días', 'Con agua', 'Oral' from p;
      set session_replication_role = origin;
      analyze;
    `);
    return patient.id;
  } finally {
    await db.close();
  }
}

async function fetchOk(url: string, token: string, client: Deno.HttpClient): Promise<number> {
  const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, client });
  const body = await res.arrayBuffer();
  if (res.status !== 200) {
    throw new Error(`${url}: ${res.status} ${new TextDecoder().decode(body).slice(0, 300)}`);
  }
  return body.byteLength;
}

export async function measureFhirExport(
  databaseUrl: string,
  jwtSecret: string,
  settings: FhirExportSettings,
  progress: (message: string) => void = () => {},
): Promise<FhirExportResult> {
  const data = await prepareBenchData(databaseUrl, 50);
  const patientId = await loadRecord(databaseUrl, data.doctor.id, settings.consultations);
  progress(`fhir export: a patient with ${settings.consultations} consultations and clinic histories`);
  const proxy = startRoundTripProxy(serverAddress(databaseUrl));
  const server = await startSecuredServer(throughProxy(databaseUrl, proxy), jwtSecret);
  const client = Deno.createHttpClient({});
  try {
    const token = await server.login(data.doctor.phone, data.doctor.password);
    const exportUrl = server.api(`/v1/fhir/Patient/${patientId}/$everything`);
    const restUrls = [
      `/v1/patients/${patientId}`,
      `/v1/patients/${patientId}/antecedents`,
      `/v1/patients/${patientId}/appointments?limit=200`,
      `/v1/patients/${patientId}/clinic-histories?limit=200`,
      "/v1/consultations?limit=200",
    ].map(server.api);

    const bundle = await (await fetch(exportUrl, { headers: { Authorization: `Bearer ${token}` }, client }))
      .json();
    const exportOnce = () => fetchOk(exportUrl, token, client);
    const restOnce = async () => {
      let bytes = 0;
      for (const url of restUrls) bytes += await fetchOk(url, token, client);
      return bytes;
    };
    const bytes = { export: await exportOnce(), rest: await restOnce() };

    await exportOnce();
    proxy.reset();
    await exportOnce();
    const exportRoundTrips = proxy.roundTrips;

    progress(`fhir export vs ${restUrls.length} REST reads: ${settings.requests} of each`);
    const [exportTimes, restTimes] = await alternateCalls([exportOnce, restOnce], {
      count: settings.requests,
      warmup: settings.warmup,
    });
    return {
      consultations: settings.consultations,
      resources: bundle.entry.length,
      export: summarize(exportTimes),
      rest: summarize(restTimes),
      restRequests: restUrls.length,
      exportRoundTrips,
      bytes,
    };
  } finally {
    client.close();
    await server.close();
    await proxy.close();
  }
}

if (import.meta.main) {
  const setting = (name: string, fallback: number) => Number(Deno.env.get(name) ?? fallback);
  const database = await createBenchDatabase();
  try {
    const secret = crypto.randomUUID() + crypto.randomUUID();
    const requests = setting("BENCH_FHIR_REQUESTS", 200);
    const result = await measureFhirExport(database.url, secret, {
      consultations: setting("BENCH_FHIR_CONSULTATIONS", 100),
      requests,
      warmup: Math.max(10, Math.round(requests / 10)),
    }, (m) => console.log(`· ${m}`));
    console.log(JSON.stringify(result, null, 2));
    console.log(
      `export p50 ${result.export.p50.toFixed(2)} ms (${result.exportRoundTrips} database round trips, ` +
        `${result.resources} resources) vs ${result.restRequests} REST reads p50 ${
          result.rest.p50.toFixed(2)
        } ms: ` +
        `${(result.export.p50 / result.rest.p50).toFixed(2)}x`,
    );
  } finally {
    await database.close();
  }
}
