import { decodeCursor, paginate } from "../../app/cursor.ts";
import { envelope, pagedEnvelope } from "../../app/envelope.ts";
import { notFound } from "../../app/problem.ts";
import { requireRole } from "../../app/roles.ts";
import type { AppRouteHandler } from "../../app/types.ts";
import { hashPassword } from "../../auth/password.ts";
import { requireAcceptablePassword } from "../../auth/password-policy.ts";
import type {
  CreateRoute,
  EndSessionsRoute,
  GetOneRoute,
  ListRoute,
  MeRoute,
  RemoveRoute,
  UpdateRoute,
} from "./users.routes.ts";
import { toUser, UPDATABLE_COLUMNS, USER_COLUMNS, USER_FROM, type UserRow } from "./users.queries.ts";

const USER_NOT_FOUND = "Usuario no encontrado";

export const create: AppRouteHandler<CreateRoute> = async (c) => {
  requireRole(c, "admin");
  const body = c.req.valid("json");
  if (body.password) await requireAcceptablePassword("password", body.password, body);
  const passwordHash = body.password ? await hashPassword(body.password) : undefined;
  const user = await c.var.db.transaction(async (tx) => {
    const [row] = await tx.query<UserRow>(
      `with u as (
         insert into public.users (role, name, last_name, phone, email, specialty_id)
         values ($1, $2, $3, $4, $5, $6)
         returning *
       )
       select ${USER_COLUMNS} ${USER_FROM.replace("public.users u", "u")}`,
      [body.role, body.name, body.lastName, body.phone, body.email, body.specialtyId ?? null],
    );
    if (passwordHash) await tx.query("select app.set_user_password($1, $2)", [row.id, passwordHash]);
    return toUser(row);
  });
  return c.json(envelope(user, "Usuario creado"), 201);
};

export const list: AppRouteHandler<ListRoute> = async (c) => {
  requireRole(c, "admin");
  const { limit, cursor, role } = c.req.valid("query");
  const after = decodeCursor(cursor);
  const rows = await c.var.db.query<UserRow & { cursor_created_at: string }>(
    `select ${USER_COLUMNS}, u.created_at::text as cursor_created_at ${USER_FROM}
      where u.deleted_at is null
        and ($1::public.app_role is null or u.role = $1)
        and ($2::text is null or (u.created_at, u.id) > ($2::text::timestamptz, $3::uuid))
      order by u.created_at, u.id
      limit $4`,
    [role ?? null, after?.createdAt ?? null, after?.id ?? null, limit + 1],
  );
  const { page, nextCursor } = paginate(rows, limit, toUser);
  return c.json(pagedEnvelope(page, nextCursor), 200);
};

export const me: AppRouteHandler<MeRoute> = async (c) => {
  const [row] = await c.var.db.query<UserRow>(
    `select ${USER_COLUMNS} ${USER_FROM} where u.id = $1 and u.deleted_at is null`,
    [c.var.caller.sub],
  );
  if (!row) throw notFound(USER_NOT_FOUND);
  return c.json(envelope(toUser(row)), 200);
};

export const getOne: AppRouteHandler<GetOneRoute> = async (c) => {
  const { id } = c.req.valid("param");
  const [row] = await c.var.db.query<UserRow>(
    `select ${USER_COLUMNS} ${USER_FROM} where u.id = $1 and u.deleted_at is null`,
    [id],
  );
  if (!row) throw notFound(USER_NOT_FOUND);
  return c.json(envelope(toUser(row)), 200);
};

export const update: AppRouteHandler<UpdateRoute> = async (c) => {
  requireRole(c, "admin");
  const { id } = c.req.valid("param");
  const { password, ...changes } = c.req.valid("json");
  // Checked before anything is written, against the phone and name the user will have.
  if (password) await requireAcceptablePassword("password", password);

  const assignments: string[] = [];
  const values: unknown[] = [id];
  for (const [field, column] of Object.entries(UPDATABLE_COLUMNS)) {
    const value = changes[field as keyof typeof changes];
    if (value === undefined) continue;
    values.push(value);
    assignments.push(`${column} = $${values.length}`);
  }

  const user = await c.var.db.transaction(async (tx) => {
    const [row] = await tx.query<UserRow>(
      assignments.length
        ? `with u as (
             update public.users set ${assignments.join(", ")}
              where id = $1 and deleted_at is null
             returning *
           )
           select ${USER_COLUMNS} ${USER_FROM.replace("public.users u", "u")}`
        : `select ${USER_COLUMNS} ${USER_FROM} where u.id = $1 and u.deleted_at is null`,
      values,
    );
    if (!row) throw notFound(USER_NOT_FOUND);
    const user = toUser(row);
    if (password) {
      await requireAcceptablePassword("password", password, user);
      await tx.query("select app.set_user_password($1, $2)", [id, await hashPassword(password)]);
    }
    return user;
  });
  return c.json(envelope(user, "Usuario actualizado"), 200);
};

export const remove: AppRouteHandler<RemoveRoute> = async (c) => {
  requireRole(c, "admin");
  const { id } = c.req.valid("param");
  const rows = await c.var.db.query(
    `update public.users set deleted_at = now(), is_active = false
      where id = $1 and deleted_at is null
     returning id`,
    [id],
  );
  if (rows.length === 0) throw notFound(USER_NOT_FOUND);
  return c.body(null, 204);
};

export const endSessions: AppRouteHandler<EndSessionsRoute> = async (c) => {
  requireRole(c, "admin");
  const { id } = c.req.valid("param");
  const [{ ended }] = await c.var.db.query<{ ended: number }>(
    "select app.end_user_sessions($1) as ended",
    [id],
  );
  return c.json(envelope({ endedSessions: Number(ended) }, "Sesiones cerradas"), 200);
};
