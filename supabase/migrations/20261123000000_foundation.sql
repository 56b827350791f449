-- =============================================================================
-- Foundation: people, specialties, sessions and the request flow.
--
-- Every request of the API runs in one transaction as its caller:
--   begin;
--   select private.start_request('<jwt claims>');   -- session check, claims, role
--   <the handler's statements, under row-level security>
--   commit;
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Schemas
-- -----------------------------------------------------------------------------

-- app: helpers that policies call. Not exposed by the Data API.
create schema if not exists app;
grant usage on schema app to authenticated, service_role;

-- private: secrets (password hashes, sessions, one-time codes, rate limits).
-- Not exposed by the Data API; only the privileged path (service_role) reads it.
create schema if not exists private;
revoke all on schema private from public;
grant usage on schema private to service_role;

-- -----------------------------------------------------------------------------
-- Helpers
-- -----------------------------------------------------------------------------

create type public.app_role as enum ('admin', 'doctor', 'patient');

comment on type public.app_role is
  'What a person is in the clinic. Carried in the JWT as the user_role claim.';

-- The caller's application role, from the verified JWT. Sessions are ended
-- whenever a user's role changes, so the claim is never stale.
create or replace function app.user_role() returns public.app_role
language sql stable
set search_path = ''
as $$
  select nullif(auth.jwt() ->> 'user_role', '')::public.app_role
$$;

create or replace function app.is_admin() returns boolean
language sql stable
set search_path = ''
as $$
  select coalesce(app.user_role() = 'admin', false)
$$;

grant execute on function app.user_role(), app.is_admin() to authenticated, service_role;

create or replace function app.set_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at = now();
  return new;
end;
$$;

-- -----------------------------------------------------------------------------
-- Specialties
-- -----------------------------------------------------------------------------

create table public.specialties (
  id uuid primary key default gen_random_uuid(),
  name text not null check (char_length(name) between 2 and 120),
  description text check (char_length(description) <= 1000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.specialties is
  'Medical specialties a doctor practises and an appointment is booked for.';

create unique index specialties_name_key on public.specialties (lower(name));

create trigger specialties_set_updated_at
  before update on public.specialties
  for each row execute function app.set_updated_at();

alter table public.specialties enable row level security;
revoke all on public.specialties from anon;

create policy "Signed-in users can read specialties"
  on public.specialties for select to authenticated
  using (true);

create policy "Admins can add specialties"
  on public.specialties for insert to authenticated
  with check ((select app.is_admin()));

create policy "Admins can edit specialties"
  on public.specialties for update to authenticated
  using ((select app.is_admin()))
  with check ((select app.is_admin()));

-- -----------------------------------------------------------------------------
-- Users
-- -----------------------------------------------------------------------------

create table public.users (
  id uuid primary key default gen_random_uuid(),
  role public.app_role not null,
  name text not null check (char_length(name) between 1 and 100),
  last_name text not null check (char_length(last_name) between 1 and 100),
  phone text not null check (phone ~ '^\+[1-9][0-9]{6,14}$'),
  email text not null check (char_length(email) <= 254 and email ~ '^[^@\s]+@[^@\s]+$'),
  specialty_id uuid references public.specialties (id),
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint users_doctor_specialty check ((role = 'doctor') = (specialty_id is not null))
);

comment on table public.users is
  'Everyone who can sign in: admins, doctors and patients. Deleting a user is '
  'soft (deleted_at), so clinical records keep their author and subject.';

-- A deleted user's phone and email may be given to a new user.
create unique index users_phone_key on public.users (phone) where deleted_at is null;
create unique index users_email_key on public.users (lower(email)) where deleted_at is null;
create index users_specialty_id_idx on public.users (specialty_id);
create index users_role_created_idx on public.users (role, created_at, id) where deleted_at is null;

create trigger users_set_updated_at
  before update on public.users
  for each row execute function app.set_updated_at();

alter table public.users enable row level security;
revoke all on public.users from anon;
revoke delete on public.users from authenticated;

create policy "Users can read their own profile"
  on public.users for select to authenticated
  using (id = (select auth.uid()) and deleted_at is null);

create policy "Admins can read every user"
  on public.users for select to authenticated
  using ((select app.is_admin()));

create policy "Admins can create users"
  on public.users for insert to authenticated
  with check ((select app.is_admin()));

create policy "Admins can update users"
  on public.users for update to authenticated
  using ((select app.is_admin()))
  with check ((select app.is_admin()));

-- -----------------------------------------------------------------------------
-- Credentials (private)
-- -----------------------------------------------------------------------------

create table private.credentials (
  user_id uuid primary key references public.users (id) on delete cascade,
  password_hash text,
  password_changed_at timestamptz
);

comment on table private.credentials is
  'Argon2id password hashes. A user without one sets it through forgot-password.';

alter table private.credentials enable row level security;
grant select, insert, update, delete on private.credentials to service_role;

-- -----------------------------------------------------------------------------
-- Sessions (private): one row per issued JWT, so a token can be revoked
-- -----------------------------------------------------------------------------

create table private.sessions (
  jti uuid primary key,
  user_id uuid not null references public.users (id) on delete cascade,
  issued_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  revoked_reason text check (
    revoked_reason in ('logout', 'password_reset', 'admin', 'deactivated', 'role_changed', 'deleted')
  ),
  constraint sessions_revocation_is_complete check ((revoked_at is null) = (revoked_reason is null))
);

comment on table private.sessions is
  'Every access token ever issued (by its jti). A request is served only while '
  'its session is neither revoked nor expired.';

create index sessions_active_by_user_idx on private.sessions (user_id) where revoked_at is null;

alter table private.sessions enable row level security;
grant select, insert, update, delete on private.sessions to service_role;

-- Ends every open session of a user. Called by the privileged path and by the
-- users trigger below (which runs as an admin, who cannot touch private.*).
create or replace function private.end_sessions(p_user_id uuid, p_reason text) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  ended integer;
begin
  update private.sessions
     set revoked_at = now(), revoked_reason = p_reason
   where user_id = p_user_id and revoked_at is null;
  get diagnostics ended = row_count;
  return ended;
end;
$$;

revoke all on function private.end_sessions(uuid, text) from public;
grant execute on function private.end_sessions(uuid, text) to service_role;

create or replace function private.end_sessions_on_user_change() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.deleted_at is not null and old.deleted_at is null then
    perform private.end_sessions(new.id, 'deleted');
  elsif not new.is_active and old.is_active then
    perform private.end_sessions(new.id, 'deactivated');
  elsif new.role <> old.role then
    perform private.end_sessions(new.id, 'role_changed');
  end if;
  return new;
end;
$$;

create trigger users_end_sessions
  after update of role, is_active, deleted_at on public.users
  for each row execute function private.end_sessions_on_user_change();

-- The first statement of every request's transaction, run as the connection's
-- own role before it drops to `authenticated`: checks that the token's session
-- is alive, publishes the claims to auth.uid()/auth.jwt(), and switches role so
-- that row-level security decides everything that follows.
create or replace function private.start_request(claims jsonb) returns void
language plpgsql
as $$
begin
  if not exists (
    select 1
      from private.sessions s
     where s.jti = (claims ->> 'jti')::uuid
       and s.user_id = (claims ->> 'sub')::uuid
       and s.revoked_at is null
       and s.expires_at > now()
  ) then
    raise exception using errcode = 'P0001', message = 'AUTH_001',
      detail = 'La sesión terminó. Inicia sesión nuevamente.';
  end if;
  perform set_config('request.jwt.claims', claims::text, true);
  perform set_config('role', 'authenticated', true);
end;
$$;

revoke all on function private.start_request(jsonb) from public;

-- -----------------------------------------------------------------------------
-- Password reset codes (private)
-- -----------------------------------------------------------------------------

create table private.password_reset_codes (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.users (id) on delete cascade,
  code_hash text not null,
  attempts integer not null default 0 check (attempts >= 0),
  expires_at timestamptz not null,
  consumed_at timestamptz,
  created_at timestamptz not null default now()
);

comment on table private.password_reset_codes is
  'One-time codes sent by WhatsApp for forgot-password: HMAC-SHA256 of the code, '
  'never the code; 10 minutes; at most 5 tries; single use.';

create index password_reset_codes_user_idx on private.password_reset_codes (user_id, created_at desc);

alter table private.password_reset_codes enable row level security;
grant select, insert, update, delete on private.password_reset_codes to service_role;

-- -----------------------------------------------------------------------------
-- Rate limits (private): fixed windows counted in the database, so that the
-- limit holds across every instance of the function.
-- -----------------------------------------------------------------------------

create table private.rate_limit_hits (
  key text not null,
  window_start timestamptz not null,
  hits integer not null default 0,
  primary key (key, window_start)
);

comment on table private.rate_limit_hits is
  'Requests per key and fixed window. Keys are SHA-256 digests, never a raw phone or address.';

alter table private.rate_limit_hits enable row level security;
grant select, insert, update, delete on private.rate_limit_hits to service_role;

-- Counts one hit for p_key and answers whether it is within p_max per window.
create or replace function private.hit_rate_limit(p_key text, p_window_seconds integer, p_max integer)
returns table (allowed boolean, retry_after_seconds integer)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_start timestamptz := to_timestamp(
    floor(extract(epoch from now()) / p_window_seconds) * p_window_seconds
  );
  v_hits integer;
begin
  delete from private.rate_limit_hits where key = p_key and window_start < v_start;
  insert into private.rate_limit_hits as r (key, window_start, hits)
  values (p_key, v_start, 1)
  on conflict (key, window_start) do update set hits = r.hits + 1
  returning r.hits into v_hits;
  allowed := v_hits <= p_max;
  retry_after_seconds := greatest(
    1, ceil(extract(epoch from (v_start + make_interval(secs => p_window_seconds) - now())))::integer
  );
  return next;
end;
$$;

revoke all on function private.hit_rate_limit(text, integer, integer) from public;
grant execute on function private.hit_rate_limit(text, integer, integer) to service_role;

-- -----------------------------------------------------------------------------
-- Session and password actions a caller may take, through narrow doors into
-- private.* (security definer, each checking who asks).
-- -----------------------------------------------------------------------------

-- Logout: ends the caller's own current session.
create or replace function app.end_current_session() returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update private.sessions
     set revoked_at = now(), revoked_reason = 'logout'
   where jti = (auth.jwt() ->> 'jti')::uuid
     and user_id = auth.uid()
     and revoked_at is null;
  return found;
end;
$$;

-- An admin ends every session of a user (a lost phone, a leaving employee).
create or replace function app.end_user_sessions(p_user_id uuid) returns integer
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not app.is_admin() then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'Solo un administrador puede cerrar las sesiones de otro usuario';
  end if;
  if not exists (select 1 from public.users where id = p_user_id and deleted_at is null) then
    raise exception using errcode = 'P0001', message = 'RES_001', detail = 'Usuario no encontrado';
  end if;
  return private.end_sessions(p_user_id, 'admin');
end;
$$;

-- An admin sets a user's password (at creation, or replacing a forgotten one:
-- replacing ends the user's sessions).
create or replace function app.set_user_password(p_user_id uuid, p_password_hash text) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  replaced boolean;
begin
  if not app.is_admin() then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'Solo un administrador puede fijar la contraseña de otro usuario';
  end if;
  if p_password_hash !~ '^\$argon2id\$' then
    raise exception using errcode = 'P0001', message = 'VAL_001', detail = 'Hash de contraseña no válido';
  end if;
  select exists (
    select 1 from private.credentials where user_id = p_user_id and password_hash is not null
  ) into replaced;
  insert into private.credentials (user_id, password_hash, password_changed_at)
  values (p_user_id, p_password_hash, now())
  on conflict (user_id) do update
    set password_hash = excluded.password_hash, password_changed_at = excluded.password_changed_at;
  if replaced then
    perform private.end_sessions(p_user_id, 'admin');
  end if;
end;
$$;

revoke all on function app.end_current_session(), app.end_user_sessions(uuid),
  app.set_user_password(uuid, text) from public;
grant execute on function app.end_current_session(), app.end_user_sessions(uuid),
  app.set_user_password(uuid, text) to authenticated;

-- -----------------------------------------------------------------------------
-- RLS does not apply to TRUNCATE, and TRIGGER or REFERENCES would let a caller
-- change a table's behaviour: Supabase's default grants give all three to
-- the API roles, so take them back from every table above.
-- -----------------------------------------------------------------------------
revoke truncate, trigger, references on all tables in schema public from anon, authenticated;
