/**
 * The RLS matrix over HTTP: every clinical resource, every actor, every
 * operation. Each cell states the answer the rightful user gets and the one
 * an attacker gets, so a handler that forgot a filter (or a policy that
 * opened too much) shows up as a wrong cell. The same matrix holds at the
 * SQL level in supabase/tests/database/ (pgTAP).
 */
import { verifyAccessToken } from "../shared/auth/jwt.ts";
import type { Claims } from "../shared/db/database.ts";
import { assertEquals } from "./helpers/std.ts";
import { at, book, clinicHistoryBody, registerPatient, specialtyOf } from "./helpers/clinic.ts";
import { conditionAbout } from "./helpers/fhir.ts";
import { call, createUser, testBothDrivers } from "./helpers/stack.ts";

type Actor = "anon" | "admin" | "doctorWith" | "doctorWithout" | "patientSelf" | "patientOther";
const ACTORS: Actor[] = ["anon", "admin", "doctorWith", "doctorWithout", "patientSelf", "patientOther"];

interface Cell {
  method: string;
  path: string;
  body?: unknown;
  expect: Record<Actor, number>;
}

testBothDrivers("RLS matrix: who may do what to a patient's records", async (t, s) => {
  const admin = await createUser(s, "admin");
  const doctorWith = await createUser(s, "doctor");
  const doctorWithout = await createUser(s, "doctor");
  const patientSelf = await registerPatient(s, admin, "Propia");
  const patientOther = await registerPatient(s, admin, "Ajena");
  const specialtyId = await specialtyOf(s, doctorWith);
  const appointment = await book(s, admin.token, {
    patientId: patientSelf.id,
    doctorId: doctorWith.id,
    specialtyId,
    start: at(3, 10),
    end: at(3, 10, 30),
  });
  const A = appointment.body.data.id;
  const history = await call(s, "POST", "/v1/clinic-histories", {
    token: doctorWith.token,
    body: clinicHistoryBody(A),
  });
  const H = history.body.data.id;
  const D = history.body.data.diagnostics[0].id;
  const V = history.body.data.vitalSigns[0].id;
  const RX = history.body.data.prescription.medications[0].id;
  const P = patientSelf.id;
  // An emergency conversation (exempt from chat hours, so the matrix holds at any time of day).
  const conversation = await call(s, "POST", "/v1/chat/conversations", {
    token: patientSelf.token,
    body: { type: "emergency", participants: [doctorWith.id] },
  });
  const C = conversation.body.data.id;
  const message = await call(s, "POST", `/v1/chat/conversations/${C}/messages`, {
    token: doctorWith.token,
    body: { content: "¿Cómo sigue?" },
  });
  const M = message.body.data.message.id;
  // The WhatsApp assistant: doctorWith's AI conversation, and a message the admin sent to the patient.
  await call(s, "POST", "/v1/openai/message", {
    token: doctorWith.token,
    body: { phone: doctorWith.phone, message: "Hola" },
  });
  const AI = (await call(s, "GET", "/v1/conversations", { token: doctorWith.token })).body.data[0].id;
  const sent = await call(s, "POST", "/v1/twilio/whatsapp/send", {
    token: admin.token,
    body: { to: patientSelf.phone, body: "Recuerde su turno" },
  });
  const W = sent.body.data.messageSid;
  const tokens: Record<Actor, string | undefined> = {
    anon: undefined,
    admin: admin.token,
    doctorWith: doctorWith.token,
    doctorWithout: doctorWithout.token,
    patientSelf: patientSelf.token,
    patientOther: patientOther.token,
  };

  const row = (anon: number, adm: number, dWith: number, dWithout: number, self: number, other: number) => ({
    anon,
    admin: adm,
    doctorWith: dWith,
    doctorWithout: dWithout,
    patientSelf: self,
    patientOther: other,
  });

  const matrix: Cell[] = [
    { method: "GET", path: `/v1/patients/${P}`, expect: row(401, 200, 200, 404, 200, 404) },
    {
      method: "PATCH",
      path: `/v1/patients/${P}`,
      body: { address: "Calle 9 de Julio 1" },
      expect: row(401, 200, 200, 404, 403, 403),
    },
    { method: "GET", path: `/v1/user/${P}`, expect: row(401, 200, 200, 404, 200, 404) },
    { method: "GET", path: `/v1/patients/${P}/antecedents`, expect: row(401, 403, 200, 404, 200, 404) },
    {
      method: "PUT",
      path: `/v1/patients/${P}/antecedents`,
      body: { allergies: ["penicilina"] },
      expect: row(401, 403, 200, 404, 403, 403),
    },
    { method: "GET", path: `/v1/appointments/${A}`, expect: row(401, 200, 200, 404, 200, 404) },
    {
      method: "PATCH",
      path: `/v1/appointments/${A}`,
      body: { reason: "Control anual" },
      expect: row(401, 200, 200, 404, 200, 404),
    },
    { method: "GET", path: `/v1/patients/${P}/appointments`, expect: row(401, 200, 200, 404, 200, 404) },
    { method: "GET", path: `/v1/clinic-histories/${H}`, expect: row(401, 403, 200, 404, 200, 404) },
    { method: "GET", path: `/v1/patients/${P}/clinic-histories`, expect: row(401, 403, 200, 404, 200, 404) },
    { method: "GET", path: "/v1/audit-events", expect: row(401, 200, 403, 403, 403, 403) },
    { method: "GET", path: "/v1/user", expect: row(401, 200, 403, 403, 403, 403) },
    { method: "GET", path: `/v1/chat/conversations/${C}`, expect: row(401, 200, 200, 404, 200, 404) },
    {
      method: "GET",
      path: `/v1/chat/conversations/${C}/messages`,
      expect: row(401, 404, 200, 404, 200, 404),
    },
    { method: "GET", path: `/v1/chat/messages/${M}`, expect: row(401, 404, 200, 404, 200, 404) },
    {
      method: "PUT",
      path: `/v1/chat/messages/${M}`,
      body: { content: "¿Cómo sigue hoy?" },
      expect: row(401, 404, 200, 404, 403, 404),
    },
    { method: "GET", path: "/v1/chat/reports", expect: row(401, 200, 403, 403, 403, 403) },
    { method: "GET", path: `/v1/conversations/${AI}/messages`, expect: row(401, 404, 200, 404, 404, 404) },
    { method: "PUT", path: `/v1/conversations/${AI}/read`, expect: row(401, 404, 200, 404, 404, 404) },
    {
      method: "POST",
      path: "/v1/messages",
      body: { conversationId: AI, content: "Nota" },
      expect: row(401, 403, 201, 404, 403, 403),
    },
    { method: "GET", path: `/v1/twilio/message/${W}/status`, expect: row(401, 200, 404, 404, 404, 404) },
    // The FHIR face: the same rules, FHIR's shapes (OperationOutcome for a refusal after sign-in).
    { method: "GET", path: "/v1/fhir/metadata", expect: row(200, 200, 200, 200, 200, 200) },
    { method: "GET", path: `/v1/fhir/Patient/${P}/$everything`, expect: row(401, 403, 200, 404, 200, 404) },
    { method: "GET", path: `/v1/fhir/Patient/${P}`, expect: row(401, 200, 200, 404, 200, 404) },
    { method: "GET", path: `/v1/fhir/Appointment/${A}`, expect: row(401, 403, 200, 404, 200, 404) },
    { method: "GET", path: `/v1/fhir/Condition/${D}`, expect: row(401, 403, 200, 404, 200, 404) },
    { method: "GET", path: `/v1/fhir/Observation/${V}`, expect: row(401, 403, 200, 404, 200, 404) },
    { method: "GET", path: `/v1/fhir/MedicationRequest/${RX}`, expect: row(401, 403, 200, 404, 200, 404) },
    {
      method: "GET",
      path: `/v1/fhir/Practitioner/${doctorWith.id}`,
      expect: row(401, 200, 200, 200, 200, 200),
    },
    {
      method: "POST",
      path: "/v1/fhir/Bundle",
      body: conditionAbout(P),
      expect: row(401, 403, 201, 404, 403, 403),
    },
  ];

  for (const cell of matrix) {
    await t.step(
      `${cell.method} ${
        cell.path.replaceAll(P, "{patient}").replaceAll(A, "{appointment}").replaceAll(H, "{history}")
          .replaceAll(doctorWith.id, "{doctor}").replaceAll(D, "{diagnosis}").replaceAll(V, "{vitalSign}")
          .replaceAll(RX, "{medication}")
          .replaceAll(C, "{conversation}").replaceAll(M, "{message}")
          .replaceAll(AI, "{aiConversation}").replaceAll(W, "{messageSid}")
      }`,
      async () => {
        const got: Record<string, number> = {};
        for (const actor of ACTORS) {
          const res = await call(s, cell.method, cell.path, { token: tokens[actor], body: cell.body });
          got[actor] = res.status;
          const fhir = cell.path.startsWith("/v1/fhir/") && res.status !== 401;
          const errorType = fhir ? "application/fhir+json" : "application/problem+json";
          if (res.status >= 400) assertEquals(res.headers.get("content-type"), errorType);
        }
        assertEquals(got, cell.expect);
      },
    );
  }

  await t.step(
    "clinical text and private notes: who reads them, through the API and in the database",
    async () => {
      // The appointment's reason is clinical (decision 5): its patient and doctor read it, an admin does not.
      await call(s, "PATCH", `/v1/appointments/${A}`, {
        token: doctorWith.token,
        body: { reason: "dolor de cabeza persistente" },
      });
      // A doctor's day off is busy time for everyone; its note is the doctor's and the admins'.
      const off = await call(s, "POST", `/v1/doctors/${doctorWith.id}/availability/exceptions`, {
        token: doctorWith.token,
        body: { kind: "unavailable", startsAt: at(5, 0), endsAt: at(6, 0), note: "operación de rodilla" },
      });
      assertEquals(off.status, 201, JSON.stringify(off.body));
      assertEquals(off.body.data.note, "operación de rodilla");
      const reasonOf = async (actor: Actor, path: string) => {
        const res = await call(s, "GET", path, { token: tokens[actor] });
        if (res.status !== 200) return res.status;
        const data = Array.isArray(res.body.data)
          ? res.body.data.find((r: { id: string }) => r.id === A)
          : res.body.data;
        return data ? data.reason : "absent";
      };
      const noteOf = async (actor: Actor) => {
        const res = await call(s, "GET", `/v1/doctors/${doctorWith.id}/availability`, {
          token: tokens[actor],
        });
        if (res.status !== 200) return res.status;
        const exception = res.body.data.exceptions.find((e: { id: string }) => e.id === off.body.data.id);
        return exception ? [exception.kind, exception.note] : "absent";
      };
      const reason = "dolor de cabeza persistente";
      const busy = (note: string | null) => ["unavailable", note];
      const cells: Array<[string, (actor: Actor) => Promise<unknown>, Record<Actor, unknown>]> = [
        ["GET /v1/appointments/{appointment} reason", (a) => reasonOf(a, `/v1/appointments/${A}`), {
          ...row(401, 200, 200, 404, 200, 404),
          admin: null,
          doctorWith: reason,
          patientSelf: reason,
        }],
        [
          "GET /v1/patients/{patient}/appointments reason",
          (a) => reasonOf(a, `/v1/patients/${P}/appointments`),
          {
            ...row(401, 200, 200, 404, 200, 404),
            admin: null,
            doctorWith: reason,
            patientSelf: reason,
          },
        ],
        ["GET /v1/appointments reason", (a) => reasonOf(a, "/v1/appointments"), {
          ...row(401, 200, 200, 200, 200, 200),
          admin: null,
          doctorWith: reason,
          doctorWithout: "absent",
          patientSelf: reason,
          patientOther: "absent",
        }],
        ["GET /v1/doctors/{doctor}/availability exception note", noteOf, {
          anon: 401,
          admin: busy("operación de rodilla"),
          doctorWith: busy("operación de rodilla"),
          doctorWithout: busy(null),
          patientSelf: busy(null),
          patientOther: busy(null),
        }],
      ];
      for (const [name, read, expected] of cells) {
        const got: Record<string, unknown> = {};
        for (const actor of ACTORS) {
          got[actor] = await read(actor);
        }
        assertEquals(got, expected, name);
      }

      // The rule is the database's: a direct query with an admin's claims cannot read the text.
      const claimsOf = async (token: string) =>
        (await verifyAccessToken(token, s.stack.config.jwt))! as Claims;
      const asCaller = async (actor: Actor, sql: string) =>
        s.stack.deps.db.asCaller(
          await claimsOf(tokens[actor]!),
          (tx) => tx.query<{ text: string | null }>(sql, [A]),
        )
          .then((rows) => rows[0]?.text ?? null, (error) => `error ${error.code}`);
      const E = off.body.data.id;
      const asCallerE = async (actor: Actor, sql: string) =>
        s.stack.deps.db.asCaller(
          await claimsOf(tokens[actor]!),
          (tx) => tx.query<{ text: string | null }>(sql, [E]),
        )
          .then((rows) => rows[0]?.text ?? null, (error) => `error ${error.code}`);
      for (const actor of ["admin", "doctorWith", "patientSelf"] as const) {
        assertEquals(
          await asCaller(actor, "select reason as text from public.appointments where id = $1"),
          "error 42501",
        );
        assertEquals(
          await asCaller(actor, "select a.* from public.appointments a where id = $1"),
          "error 42501",
        );
        assertEquals(
          await asCallerE(
            actor,
            "select note as text from public.doctor_availability_exceptions where id = $1",
          ),
          "error 42501",
        );
      }
      assertEquals(await asCaller("admin", "select app.appointment_reason($1) as text"), null);
      assertEquals(await asCaller("doctorWithout", "select app.appointment_reason($1) as text"), null);
      assertEquals(await asCaller("patientOther", "select app.appointment_reason($1) as text"), null);
      assertEquals(await asCaller("doctorWith", "select app.appointment_reason($1) as text"), reason);
      assertEquals(await asCaller("patientSelf", "select app.appointment_reason($1) as text"), reason);
      assertEquals(
        await asCallerE("patientSelf", "select app.availability_exception_note($1) as text"),
        null,
      );
      assertEquals(
        await asCallerE("doctorWithout", "select app.availability_exception_note($1) as text"),
        null,
      );
      assertEquals(
        await asCallerE("admin", "select app.availability_exception_note($1) as text"),
        "operación de rodilla",
      );
      assertEquals(
        await asCallerE("doctorWith", "select app.availability_exception_note($1) as text"),
        "operación de rodilla",
      );
    },
  );

  await t.step("lists show nobody else's rows", async () => {
    const ids = async (actor: Actor, path: string) =>
      (await call(s, "GET", path, { token: tokens[actor] })).body.data.map((r: { id: string }) => r.id);
    assertEquals((await ids("doctorWithout", "/v1/appointments")).includes(A), false);
    assertEquals((await ids("patientOther", "/v1/appointments")).includes(A), false);
    assertEquals((await ids("doctorWith", "/v1/appointments")).includes(A), true);
    assertEquals(await ids("patientOther", "/v1/clinic-histories"), []);
    assertEquals(await ids("doctorWithout", "/v1/clinic-histories"), []);
    assertEquals(await ids("patientSelf", "/v1/clinic-histories"), [H]);
    assertEquals((await ids("doctorWithout", "/v1/patients")).includes(P), false);
    assertEquals((await ids("doctorWith", "/v1/patients")).includes(P), true);
    assertEquals(await ids("patientOther", "/v1/chat/conversations"), []);
    assertEquals(await ids("doctorWithout", "/v1/chat/conversations"), []);
    assertEquals(await ids("patientSelf", "/v1/chat/conversations"), [C]);
    for (const actor of ["admin", "doctorWithout", "patientSelf", "patientOther"] as const) {
      assertEquals(await ids(actor, "/v1/conversations"), []);
    }
    assertEquals(await ids("doctorWith", "/v1/conversations"), [AI]);
  });
});
