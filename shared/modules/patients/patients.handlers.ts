import { decodeCursor, paginate } from "../../app/cursor.ts";
import { envelope, pagedEnvelopeWithTotal } from "../../app/envelope.ts";
import { notFound } from "../../app/problem.ts";
import { requireRole } from "../../app/roles.ts";
import type { AppRouteHandler } from "../../app/types.ts";
import { hashPassword } from "../../auth/password.ts";
import { requireAcceptablePassword } from "../../auth/password-policy.ts";
import type { Queryable } from "../../db/database.ts";
import {
  type AntecedentsRow,
  countPatientsSql,
  listPatientsSql,
  PATIENT_SELECT,
  type PatientRow,
  toAntecedents,
  toPatient,
} from "./patients.queries.ts";
import type {
  CreateRoute,
  GetAntecedentsRoute,
  GetOneRoute,
  ListRoute,
  RemoveRoute,
  ReplaceAntecedentsRoute,
  UpdateRoute,
} from "./patients.routes.ts";

const PATIENT_NOT_FOUND = "Paciente no encontrado";

async function readPatient(tx: Queryable, id: string) {
  const [row] = await tx.query<PatientRow>(`${PATIENT_SELECT} and p.id = $1`, [id]);
  if (!row) throw notFound(PATIENT_NOT_FOUND);
  return row;
}

const audit = (tx: Queryable, action: "read", type: "patient" | "antecedents", ids: string[]) =>
  ids.length ? tx.query("select app.audit($1, $2, $3::uuid[])", [action, type, ids]) : Promise.resolve([]);

export const create: AppRouteHandler<CreateRoute> = async (c) => {
  requireRole(c, "admin", "doctor");
  const body = c.req.valid("json");
  if (body.password) await requireAcceptablePassword("password", body.password, body);
  const passwordHash = body.password ? await hashPassword(body.password) : null;
  const patient = await c.var.db.transaction(async (tx) => {
    const [{ id }] = await tx.query<{ id: string }>(
      "select app.register_patient($1, $2, $3, $4, $5, $6, $7::text::date, $8) as id",
      [
        body.name,
        body.lastName,
        body.phone,
        body.email,
        body.address,
        body.gender ?? null,
        body.birthDate ?? null,
        passwordHash,
      ],
    );
    return toPatient(await readPatient(tx, id));
  });
  return c.json(envelope(patient, "Paciente registrado"), 201);
};

/** RLS decides; saying it again lets the planner start from the caller's own patients. */
const LIST_SCOPE = {
  admin: "",
  doctor: "and p.id in (select app.my_patient_ids())",
  patient: "and p.id = auth.uid()",
} as const;

export const list: AppRouteHandler<ListRoute> = async (c) => {
  const { limit, cursor, search, includeTotal } = c.req.valid("query");
  const after = decodeCursor(cursor);
  const pattern = search ? `%${search.replace(/[%_\\]/g, "\\$&")}%` : null;
  const scope = LIST_SCOPE[c.var.caller.user_role];
  const result = await c.var.db.transaction(async (tx) => {
    const rows = await tx.query<PatientRow>(listPatientsSql(scope), [
      after?.createdAt ?? null,
      after?.id ?? null,
      pattern,
      limit + 1,
    ]);
    const page = paginate(rows, limit, toPatient);
    await audit(tx, "read", "patient", page.page.map((p) => p.id));
    if (includeTotal !== "true") return { ...page, total: undefined };
    const [{ total }] = await tx.query<{ total: number }>(countPatientsSql(scope), [pattern]);
    return { ...page, total };
  });
  return c.json(pagedEnvelopeWithTotal(result.page, result.nextCursor, result.total), 200);
};

export const getOne: AppRouteHandler<GetOneRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const patient = await c.var.db.transaction(async (tx) => {
    const row = await readPatient(tx, id);
    await audit(tx, "read", "patient", [id]);
    return toPatient(row);
  });
  return c.json(envelope(patient), 200);
};

export const update: AppRouteHandler<UpdateRoute> = async (c) => {
  requireRole(c, "admin", "doctor");
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  // Checked before anything is written, against the phone and name the patient will have.
  if (body.password) await requireAcceptablePassword("password", body.password);

  const userColumns = { email: "email", name: "name", lastName: "last_name", phone: "phone" } as const;
  const patientColumns = { address: "address", gender: "gender", birthDate: "birth_date" } as const;
  const assignments = (columns: Record<string, string>, values: unknown[]) =>
    Object.entries(columns).flatMap(([field, column]) => {
      const value = body[field as keyof typeof body];
      if (value === undefined) return [];
      values.push(value);
      return [`${column} = $${values.length}${column === "birth_date" ? "::text::date" : ""}`];
    });

  const patient = await c.var.db.transaction(async (tx) => {
    await readPatient(tx, id);
    const userValues: unknown[] = [id];
    const userSet = assignments(userColumns, userValues);
    if (userSet.length) {
      const updated = await tx.query(
        `update public.users set ${userSet.join(", ")} where id = $1 returning id`,
        userValues,
      );
      if (!updated.length) throw notFound(PATIENT_NOT_FOUND);
    }
    const patientValues: unknown[] = [id];
    const patientSet = assignments(patientColumns, patientValues);
    if (patientSet.length) {
      const updated = await tx.query(
        `update public.patients set ${patientSet.join(", ")} where id = $1 returning id`,
        patientValues,
      );
      if (!updated.length) throw notFound(PATIENT_NOT_FOUND);
    }
    const patient = toPatient(await readPatient(tx, id));
    if (body.password) {
      await requireAcceptablePassword("password", body.password, patient);
      await tx.query("select app.set_patient_password($1, $2)", [id, await hashPassword(body.password)]);
    }
    return patient;
  });
  return c.json(envelope(patient, "Paciente actualizado"), 200);
};

export const remove: AppRouteHandler<RemoveRoute> = async (c) => {
  requireRole(c, "admin");
  const { id } = c.req.valid("param");
  const rows = await c.var.db.query(
    `update public.users set deleted_at = now(), is_active = false
      where id = $1 and role = 'patient' and deleted_at is null
     returning id`,
    [id],
  );
  if (!rows.length) throw notFound(PATIENT_NOT_FOUND);
  return c.body(null, 204);
};

export const getAntecedents: AppRouteHandler<GetAntecedentsRoute> = async (c) => {
  requireRole(c, "doctor", "patient");
  const { id } = c.req.valid("param");
  const antecedents = await c.var.db.transaction(async (tx) => {
    const patient = await readPatient(tx, id);
    const [row] = await tx.query<AntecedentsRow>(
      "select * from public.patient_antecedents where patient_id = $1",
      [id],
    );
    await audit(tx, "read", "antecedents", [id]);
    return toAntecedents(
      row ?? {
        patient_id: id,
        allergies: [],
        medications: [],
        medical_history: [],
        family_history: [],
        updated_at: patient.created_at,
      },
    );
  });
  return c.json(envelope(antecedents), 200);
};

export const replaceAntecedents: AppRouteHandler<ReplaceAntecedentsRoute> = async (c) => {
  requireRole(c, "doctor");
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  const antecedents = await c.var.db.transaction(async (tx) => {
    await readPatient(tx, id);
    const [row] = await tx.query<AntecedentsRow>(
      `insert into public.patient_antecedents
         (patient_id, allergies, medications, medical_history, family_history, updated_by, updated_at)
       values ($1, $2, $3, $4, $5, auth.uid(), now())
       on conflict (patient_id) do update set
         allergies = excluded.allergies, medications = excluded.medications,
         medical_history = excluded.medical_history, family_history = excluded.family_history,
         updated_by = excluded.updated_by, updated_at = excluded.updated_at
       returning *`,
      [
        id,
        body.allergies ?? [],
        body.medications ?? [],
        body.medicalHistory ?? [],
        body.familyHistory ?? [],
      ],
    );
    return toAntecedents(row);
  });
  return c.json(envelope(antecedents, "Antecedentes actualizados"), 200);
};
