/**
 * The admins' read-only views in Supabase Studio (schema ops,
 * 20261201003100_ops_views.sql) and the PHI comments they are checked
 * against (20261201003000_phi_comments.sql): the views exist, only
 * ops_reader reads them (and nothing else), they hold what a seeded clinic
 * day should show, none reads a PHI column, and every column whose name says
 * PHI carries a 'PHI: ...' comment.
 */
import type { Database } from "../shared/db/database.ts";
import { book, registerPatient, specialtyOf, startLiveConsultation } from "./helpers/clinic.ts";
import { assert, assertEquals, assertRejects } from "./helpers/std.ts";
import { call, createUser, testBothDrivers, type TestStack } from "./helpers/stack.ts";

const VIEWS = [
  "audit_log",
  "consultation_activity",
  "consultations_by_state",
  "conversation_activity",
  "reminders",
  "todays_schedule",
  "waiting_queue",
  "whatsapp_deliveries",
];

// deno-lint-ignore no-explicit-any
type Row = Record<string, any>;

type Role = Parameters<Database["asRole"]>[0];

/** As ops_reader (asRole's type names the API's roles; the database switches to any role). */
const asOps = (db: Database, sql: string, params: unknown[] = []) =>
  db.asRole("ops_reader" as Role, {}, (tx) => tx.query<Row>(sql, params));

/** The columns any ops view reads (in its select list or anywhere else) whose comment says PHI. */
async function phiReadByViews(db: Database): Promise<string[]> {
  const rows = await db.queryAsOwner<{ used: string }>(
    `select u.view_name || ' reads ' || u.table_schema || '.' || u.table_name || '.' || u.column_name as used
       from information_schema.view_column_usage u
       join pg_attribute a
         on a.attrelid = format('%I.%I', u.table_schema, u.table_name)::regclass and a.attname = u.column_name
      where u.view_schema = 'ops' and col_description(a.attrelid, a.attnum) like 'PHI:%'
      order by 1`,
  );
  return rows.map((r) => r.used);
}

/**
 * The lint: a column is PHI-bearing if its name says so (anywhere in public
 * and private), and so is every text, array or json column of the clinical
 * record; each must carry a 'PHI: ...' comment, and so must its table.
 */
const PHI_NAMES = [
  "name",
  "last_name",
  "phone",
  "email",
  "address",
  "birth_date",
  "gender",
  "from_phone",
  "to_phone",
  "body",
  "content",
  "filename",
  "summary",
  "details",
  "reason",
  "consultation_reason",
  "symptoms",
  "treatment",
  "allergies",
  "medications",
  "medical_history",
  "family_history",
  "indications",
  "title",
  "description",
];
/** Where those names hold no PHI: the catalogue of specialties, and reasons that are fixed codes. */
const NOT_PHI = new Set([
  "public.specialties.name",
  "public.specialties.description",
  "public.chat_message_reports.reason",
  "private.chat_message_versions.reason",
]);
const CLINICAL_RECORD = /^(clinic_histor|prescription|patient_antecedents)/;

async function phiWithoutComment(db: Database): Promise<string[]> {
  const columns = await db.queryAsOwner<
    {
      schema: string;
      table: string;
      column: string;
      type: string;
      comment: string | null;
      tableComment: string | null;
    }
  >(
    `select c.table_schema as schema, c.table_name as table, c.column_name as column, c.data_type as type,
            col_description(a.attrelid, a.attnum) as comment, obj_description(a.attrelid, 'pg_class') as "tableComment"
       from information_schema.columns c
       join information_schema.tables t
         on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
       join pg_attribute a
         on a.attrelid = format('%I.%I', c.table_schema, c.table_name)::regclass and a.attname = c.column_name
      where c.table_schema in ('public', 'private')`,
  );
  const missing: string[] = [];
  for (const c of columns) {
    const id = `${c.schema}.${c.table}.${c.column}`;
    const byName = (PHI_NAMES.includes(c.column) || c.column.endsWith("_phone")) && !NOT_PHI.has(id);
    const byRecord = CLINICAL_RECORD.test(c.table) && /text|ARRAY|json|tsvector/.test(c.type);
    if (!byName && !byRecord) continue;
    if (!c.comment?.startsWith("PHI: ")) missing.push(id);
    if (!c.tableComment?.startsWith("PHI: ")) missing.push(`${c.schema}.${c.table} (the table)`);
  }
  return [...new Set(missing)].sort();
}

/** A clinic day: a consultation in progress with messages, one waiting, one tomorrow, a chat, a reminder. */
async function seedDay(s: TestStack) {
  const db = s.stack.deps.db;
  const admin = await createUser(s, "admin");
  const doctor = await createUser(s, "doctor");
  const live = await startLiveConsultation(s, { admin, doctor }, new Date(Date.now() + 2 * 60_000));
  for (const text of ["Hola doctor", "Hola, ¿cómo sigue?"]) {
    const token = text === "Hola doctor" ? live.patient.token : doctor.token;
    const sent = await call(s, "POST", `/v1/consultations/${live.id}/messages`, { token, body: { text } });
    assertEquals(sent.status, 201, JSON.stringify(sent.body));
  }

  const specialtyId = await specialtyOf(s, doctor);
  const waitingPatient = await registerPatient(s, admin, "Espera");
  const start = Date.now() + 40 * 60_000;
  const booked = await book(s, admin.token, {
    patientId: waitingPatient.id,
    doctorId: doctor.id,
    specialtyId,
    start: new Date(start).toISOString(),
    end: new Date(start + 30 * 60_000).toISOString(),
  });
  assertEquals(booked.status, 201, JSON.stringify(booked.body));
  const waitingAppointment: string = booked.body.data.id;
  await call(s, "PATCH", `/v1/appointments/${waitingAppointment}`, {
    token: doctor.token,
    body: { status: "CONFIRMED" },
  });
  const opened = await call(s, "POST", "/v1/consultations", {
    token: doctor.token,
    body: { appointmentId: waitingAppointment },
  });
  assertEquals(opened.status, 201, JSON.stringify(opened.body));
  const waiting: string = opened.body.data.id;
  assertEquals(
    (await call(s, "POST", `/v1/consultations/${waiting}/check-in`, { token: waitingPatient.token })).status,
    200,
  );

  const tomorrow = await book(s, admin.token, {
    patientId: waitingPatient.id,
    doctorId: doctor.id,
    specialtyId,
    start: new Date(Date.now() + 26 * 3_600_000).toISOString(),
    end: new Date(Date.now() + 26.5 * 3_600_000).toISOString(),
  });
  assertEquals(tomorrow.status, 201, JSON.stringify(tomorrow.body));

  // A chat of the doctor's with three messages, one deleted, and a shared file; a reminder delivered.
  // (An emergency chat: the others keep office hours, 08:00-22:00 in the clinic's time zone.)
  const [chat] = await db.queryAsOwner<{ id: string }>(
    "insert into public.conversations (type, created_by) values ('emergency', $1) returning id",
    [doctor.id],
  );
  await db.queryAsOwner(
    `insert into public.conversation_participants (conversation_id, user_id) values ($1, $2), ($1, $3)`,
    [chat.id, doctor.id, admin.id],
  );
  const [m1] = await db.queryAsOwner<{ id: string }>(
    `insert into public.chat_messages (conversation_id, sender_id, body) values ($1, $2, 'uno'), ($1, $2, 'dos')
     returning id`,
    [chat.id, doctor.id],
  );
  const [m3] = await db.queryAsOwner<{ id: string }>(
    "insert into public.chat_messages (conversation_id, sender_id, body) values ($1, $2, 'tres') returning id",
    [chat.id, doctor.id],
  );
  await db.queryAsOwner("update public.chat_messages set body = null, deleted_at = now() where id = $1", [
    m3.id,
  ]);
  // A file is uploaded pending (the insert trigger says so), then shared in a message.
  const files = await db.queryAsOwner<{ id: string }>(
    `insert into public.chat_files (conversation_id, uploaded_by, filename, mime_type, size_bytes)
     values ($1, $2, 'estudio-perez.pdf', 'application/pdf', 10), ($1, $2, 'borrador.pdf', 'application/pdf', 10)
     returning id`,
    [chat.id, doctor.id],
  );
  await db.queryAsOwner("update public.chat_files set status = 'shared', message_id = $2 where id = $1", [
    files[0].id,
    m1.id,
  ]);
  const [sms] = await db.queryAsOwner<{ id: string }>(
    `insert into public.whatsapp_messages
       (message_sid, direction, purpose, user_id, from_phone, to_phone, body, status, date_sent)
     values ($1, 'outbound', 'reminder', $2, '+14155238886', $3, 'Recordatorio: mañana 10:00', 'delivered', now())
     returning id`,
    [`SM${crypto.randomUUID().replaceAll("-", "")}`, waitingPatient.id, waitingPatient.phone],
  );
  await db.queryAsOwner(
    `insert into public.appointment_reminders (appointment_id, kind, patient_id, whatsapp_message_id, reply, replied_at)
     values ($1, '24h', $2, $3, 'confirmed', now())`,
    [tomorrow.body.data.id, waitingPatient.id, sms.id],
  );
  return {
    admin,
    doctor,
    live: live.id,
    waiting,
    waitingAppointment,
    tomorrow: tomorrow.body.data.id as string,
    chat: chat.id,
    sms: sms.id,
  };
}

testBothDrivers("ops views: only ops_reader reads them, and only them", async (t, s) => {
  const db = s.stack.deps.db;

  await t.step("the schema has its eight views, none security_invoker", async () => {
    const views = await db.queryAsOwner<{ name: string; options: string[] | null }>(
      `select c.relname as name, c.reloptions as options from pg_class c
        where c.relnamespace = 'ops'::regnamespace and c.relkind = 'v' order by 1`,
    );
    assertEquals(views.map((v) => v.name), VIEWS);
    for (const v of views) assertEquals(v.options, ["security_invoker=false"], v.name);
  });

  await t.step("ops_reader reads every view, and no table", async () => {
    for (const view of VIEWS) await asOps(db, `select * from ops.${view} limit 1`);
    for (
      const table of ["public.users", "public.whatsapp_messages", "public.audit_events", "private.sessions"]
    ) {
      const error = await assertRejects(() => asOps(db, `select 1 from ${table} limit 1`));
      assert(/permission denied/.test(String(error)), `${table}: ${error}`);
    }
  });

  await t.step("anon, authenticated (an admin's claims) and service_role read none of them", async () => {
    const admin = await createUser(s, "admin");
    const claims = { sub: admin.id, role: "authenticated", user_role: "admin" };
    for (const role of ["anon", "authenticated", "service_role"] as const) {
      const error = await assertRejects(() =>
        db.asRole(role, claims, (tx) => tx.query("select * from ops.audit_log limit 1"))
      );
      assert(/permission denied/.test(String(error)), `${role}: ${error}`);
      const [{ usage }] = await db.queryAsOwner<{ usage: boolean }>(
        "select has_schema_privilege($1, 'ops', 'usage') as usage",
        [role],
      );
      assertEquals(usage, false, role);
    }
  });

  await t.step("the Data API serves public only (and is off)", async () => {
    const toml = await Deno.readTextFile(new URL("../supabase/config.toml", import.meta.url));
    const api = /\[api\]([\s\S]*?)\n\[/.exec(toml)![1];
    assert(/enabled = false/.test(api), api);
    assertEquals(/schemas = (\[.*\])/.exec(api)![1], '["public"]');
    assert(!/extra_search_path = .*ops/.test(api), api);
  });
});

testBothDrivers("ops views: a clinic day, as an admin sees it in Studio", async (t, s) => {
  const db = s.stack.deps.db;
  const day = await seedDay(s);
  const [{ tomorrowIsToday, waitingIsToday, liveIsToday }] = await db.queryAsOwner<Row>(
    `select bool_or(a.id = $1) filter (where is_today) as "liveIsToday",
            bool_or(a.id = $2) filter (where is_today) as "waitingIsToday",
            coalesce(bool_or(a.id = $3) filter (where is_today), false) as "tomorrowIsToday"
       from (select a.id, (a.starts_at at time zone cs.time_zone)::date = (now() at time zone cs.time_zone)::date
                      as is_today
               from public.appointments a cross join public.clinic_settings cs) a`,
    [
      (await db.queryAsOwner<Row>("select appointment_id from public.consultations where id = $1", [
        day.live,
      ]))[0]
        .appointment_id,
      day.waitingAppointment,
      day.tomorrow,
    ],
  );

  await t.step("today's schedule: the doctor's appointments of today, with their consultations", async () => {
    const rows = await asOps(
      db,
      "select * from ops.todays_schedule where doctor_id = $1 order by starts_at",
      [
        day.doctor.id,
      ],
    );
    const expected = [
      ...(liveIsToday ? [{ consultation: day.live, state: "in_progress" }] : []),
      ...(waitingIsToday ? [{ consultation: day.waiting, state: "waiting" }] : []),
    ];
    assertEquals(
      rows.map((r) => ({ consultation: r.consultation_id, state: r.consultation_status })),
      expected,
    );
    assert(rows.every((r) => r.status === "CONFIRMED" && r.specialty === "Test specialty"));
    assertEquals(tomorrowIsToday, false);
    assert(!rows.some((r) => r.appointment_id === day.tomorrow), "tomorrow's appointment is not today's");
  });

  await t.step("the waiting queue: the checked-in consultation, not the one in progress", async () => {
    const rows = await asOps(db, "select * from ops.waiting_queue where doctor_id = $1", [day.doctor.id]);
    assertEquals(rows.map((r) => r.consultation_id), [day.waiting]);
    assert(rows[0].checked_in_at !== null);
  });

  await t.step("consultations by state: every state, zeros too", async () => {
    const rows = await asOps(
      db,
      "select status, consultations::int as n from ops.consultations_by_state order by 1",
    );
    assertEquals(rows, [
      { status: "waiting", n: 1 },
      { status: "in_progress", n: 1 },
      { status: "closed", n: 0 },
    ]);
  });

  await t.step("messages and files per conversation and per consultation", async () => {
    const [chat] = await asOps(
      db,
      "select participants::int, messages::int, files::int from ops.conversation_activity where conversation_id = $1",
      [day.chat],
    );
    assertEquals(chat, { participants: 2, messages: 2, files: 1 });
    const consultations = await asOps(
      db,
      `select consultation_id, status, messages::int, files::int from ops.consultation_activity
        where doctor_id = $1 order by messages desc`,
      [day.doctor.id],
    );
    assertEquals(consultations, [
      { consultation_id: day.live, status: "in_progress", messages: 2, files: 0 },
      { consultation_id: day.waiting, status: "waiting", messages: 0, files: 0 },
    ]);
  });

  await t.step("reminders and WhatsApp deliveries with their status, no text or number", async () => {
    const [reminder] = await asOps(
      db,
      "select kind, reply, delivery_status from ops.reminders where appointment_id = $1",
      [day.tomorrow],
    );
    assertEquals(reminder, { kind: "24h", reply: "confirmed", delivery_status: "delivered" });
    const [delivery] = await asOps(db, "select * from ops.whatsapp_deliveries where id = $1", [day.sms]);
    assertEquals([delivery.direction, delivery.purpose, delivery.status], [
      "outbound",
      "reminder",
      "delivered",
    ]);
    assert(!("body" in delivery) && !("to_phone" in delivery) && !("from_phone" in delivery));
  });

  await t.step("the audit log: the admin's registrations of the two patients", async () => {
    const rows = await asOps(
      db,
      "select action, resource_type from ops.audit_log where actor_id = $1 and action = 'create' order by 1",
      [day.admin.id],
    );
    assertEquals(rows.filter((r) => r.resource_type === "patient").length, 2);
  });
});

testBothDrivers("ops views: none reads a PHI column, and every PHI column says so", async (t, s) => {
  const db = s.stack.deps.db;

  await t.step("no ops view reads a column commented 'PHI: ...'", async () => {
    assertEquals(await phiReadByViews(db), []);
  });

  await t.step("the check sees a view that reads one, even outside its select list", async () => {
    await db.queryAsOwner(
      "create view ops.probe as select id from public.users where phone like '+54%' and name <> ''",
    );
    try {
      assertEquals(await phiReadByViews(db), [
        "probe reads public.users.name",
        "probe reads public.users.phone",
      ]);
    } finally {
      await db.queryAsOwner("drop view ops.probe");
    }
  });

  await t.step(
    "every column the lint considers PHI, and its table, carries a 'PHI: ...' comment",
    async () => {
      assertEquals(await phiWithoutComment(db), []);
    },
  );

  await t.step("the lint sees a new column whose name says PHI", async () => {
    await db.queryAsOwner("create table public.probe (id int, mother_phone text, treatment text)");
    try {
      assertEquals(await phiWithoutComment(db), [
        "public.probe (the table)",
        "public.probe.mother_phone",
        "public.probe.treatment",
      ]);
    } finally {
      await db.queryAsOwner("drop table public.probe");
    }
  });
});
