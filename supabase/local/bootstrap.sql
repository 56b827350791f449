-- =============================================================================
-- Local bootstrap: what a Supabase project already has, recreated for plain
-- PostgreSQL and PGlite. Applied before the migrations by the local stack and
-- the tests; NEVER pushed to Supabase (it lives outside supabase/migrations).
--
-- The definitions follow Supabase's own (supabase/postgres init scripts,
-- storage-api and realtime migrations), reduced to what Consultorio uses.
-- Every statement is idempotent: it runs on every local start.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Roles (supabase/postgres: init-scripts and the demote-postgres migration)
--
-- On Supabase `postgres` is not a superuser: it owns what the migrations
-- create, may SET ROLE to the API roles and bypasses RLS, while auth, storage
-- and realtime belong to the services' own admin roles. Where the server's
-- superuser has another name (the tests' servers: supabase_admin, as on
-- Supabase) `postgres` is made exactly that; PGlite's only user is the
-- bootstrap superuser `postgres`, which cannot be demoted.
--
-- Roles are server-wide: two bootstraps into two databases of one server at
-- once would both try to create them. The lock on the shared catalog
-- pg_authid (unlike an advisory lock, which is per database) serializes them;
-- the second then finds the roles made.
-- -----------------------------------------------------------------------------
begin;
lock table pg_catalog.pg_authid in share row exclusive mode;
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin login noinherit createrole noreplication;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_storage_admin') then
    create role supabase_storage_admin login noinherit createrole noreplication;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_realtime_admin') then
    create role supabase_realtime_admin nologin noinherit noreplication;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'postgres') then
    create role postgres login nosuperuser createdb createrole replication bypassrls;
  elsif exists (
    select 1 from pg_roles
     where rolname = 'postgres' and rolsuper and oid <> 10 and session_user <> 'postgres'
  ) then
    alter role postgres nosuperuser createdb createrole replication bypassrls;
  end if;
end
$$;

grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role to postgres;
grant anon, authenticated, service_role to current_user;
commit;

-- What Supabase grants `postgres` in each database, and the API roles'
-- defaults for what `postgres` (the migrations) creates in public.
do $$
begin
  execute format('grant all on database %I to postgres', current_database());
end
$$;
grant all on schema public to postgres;
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on tables to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on functions to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on sequences to anon, authenticated, service_role;

create schema if not exists extensions;
grant all on schema extensions to postgres;
grant usage on schema extensions to anon, authenticated, service_role;

-- -----------------------------------------------------------------------------
-- Owners: auth, storage and realtime and everything in them belong to their
-- service's admin role, as on Supabase; each section below runs as that role.
-- This moves what an older local database created as another role. The
-- migrations run as `postgres`, which owns none of it.
-- -----------------------------------------------------------------------------
create schema if not exists auth authorization supabase_auth_admin;
create schema if not exists storage authorization supabase_storage_admin;
create schema if not exists realtime authorization supabase_realtime_admin;
alter schema auth owner to supabase_auth_admin;
alter schema storage owner to supabase_storage_admin;
alter schema realtime owner to supabase_realtime_admin;

do $$
declare
  o record;
begin
  for o in
    with admins(schema, role) as (
      values ('auth', 'supabase_auth_admin'), ('storage', 'supabase_storage_admin'),
             ('realtime', 'supabase_realtime_admin')
    )
    select format('alter table %I.%I owner to %I', n.nspname, c.relname, a.role) as ddl
      from pg_class c join pg_namespace n on n.oid = c.relnamespace join admins a on a.schema = n.nspname
     where c.relkind in ('r', 'p', 'S', 'v') and pg_get_userbyid(c.relowner) <> a.role
    union all
    select format('alter function %s owner to %I', p.oid::regprocedure, a.role)
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace join admins a on a.schema = n.nspname
     where pg_get_userbyid(p.proowner) <> a.role
  loop
    execute o.ddl;
  end loop;
end
$$;

-- -----------------------------------------------------------------------------
-- auth: the helpers RLS policies call (supabase/auth migrations)
-- -----------------------------------------------------------------------------
set role supabase_auth_admin;
grant usage on schema auth to postgres, anon, authenticated, service_role;

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.email() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
  to postgres, anon, authenticated, service_role;

reset role;

-- -----------------------------------------------------------------------------
-- storage: buckets and objects (supabase/storage-api migrations). `postgres`
-- and the API roles may read and write the rows, not alter the tables (no
-- TRIGGER, TRUNCATE or REFERENCES).
-- -----------------------------------------------------------------------------
set role supabase_storage_admin;
grant usage on schema storage to postgres, anon, authenticated, service_role;

create table if not exists storage.buckets (
  id text primary key,
  name text not null unique,
  owner uuid,
  owner_id text,
  public boolean default false,
  avif_autodetection boolean default false,
  file_size_limit bigint,
  allowed_mime_types text[],
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);

create table if not exists storage.objects (
  id uuid primary key default gen_random_uuid(),
  bucket_id text references storage.buckets (id),
  name text,
  owner uuid,
  owner_id text,
  metadata jsonb,
  user_metadata jsonb,
  path_tokens text[] generated always as (string_to_array(name, '/')) stored,
  version text,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_accessed_at timestamptz default now(),
  constraint bucketid_objname unique (bucket_id, name)
);

alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;
revoke all on storage.buckets, storage.objects from anon, authenticated, service_role;
grant select, insert, update, delete on storage.buckets, storage.objects
  to postgres, anon, authenticated, service_role;
-- A project may add its own triggers on storage.objects (Supabase grants its
-- postgres role TRIGGER there; the product's guard of file slots is one).
grant trigger on storage.objects to postgres;

create or replace function storage.foldername(name text) returns text[]
language plpgsql immutable
as $$
declare
  _parts text[];
begin
  select string_to_array(name, '/') into _parts;
  return _parts[1:array_length(_parts, 1) - 1];
end
$$;

create or replace function storage.filename(name text) returns text
language plpgsql immutable
as $$
declare
  _parts text[];
begin
  select string_to_array(name, '/') into _parts;
  return _parts[array_length(_parts, 1)];
end
$$;

create or replace function storage.extension(name text) returns text
language plpgsql immutable
as $$
declare
  _parts text[];
  _filename text;
begin
  select string_to_array(name, '/') into _parts;
  select _parts[array_length(_parts, 1)] into _filename;
  return reverse(split_part(reverse(_filename), '.', 1));
end
$$;

reset role;

-- -----------------------------------------------------------------------------
-- realtime: broadcast authorization and database broadcasts
-- (supabase/realtime migrations: realtime.messages, realtime.topic(),
-- realtime.send()). As on Supabase, realtime.messages is partitioned by day
-- on inserted_at; Realtime creates the partitions (yesterday to three days
-- ahead) when it connects and from its janitor, and so does the local
-- stand-in (supabase/local/realtime/partitions.ts). Supabase's Realtime reads
-- new rows by logical replication; locally a trigger notifies the stand-in,
-- which NOTIFY delivers only when the transaction commits, as on Supabase.
-- -----------------------------------------------------------------------------
set role supabase_realtime_admin;
grant usage on schema realtime to postgres, anon, authenticated, service_role;

-- A local database from before partitioning has a plain table: it is set
-- aside here, and its policies move to the partitioned one below.
do $$
begin
  if exists (
    select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'realtime' and c.relname = 'messages' and c.relkind = 'r'
  ) then
    alter table realtime.messages rename to messages_unpartitioned;
  end if;
end
$$;

create table if not exists realtime.messages (
  id uuid not null default gen_random_uuid(),
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp not null default now(),
  inserted_at timestamp not null default now(),
  primary key (id, inserted_at)
) partition by range (inserted_at);

-- As the superuser: the policies call functions of schemas (app) the admin role cannot use.
reset role;
do $$
declare
  p record;
begin
  if to_regclass('realtime.messages_unpartitioned') is null then
    return;
  end if;
  for p in select * from pg_policies where schemaname = 'realtime' and tablename = 'messages_unpartitioned'
  loop
    execute format(
      'create policy %I on realtime.messages as %s for %s to %s%s%s',
      p.policyname, p.permissive, p.cmd,
      (select string_agg(quote_ident(r), ', ') from unnest(p.roles) r),
      case when p.qual is null then '' else format(' using (%s)', p.qual) end,
      case when p.with_check is null then '' else format(' with check (%s)', p.with_check) end
    );
  end loop;
  drop table realtime.messages_unpartitioned;
end
$$;
set role supabase_realtime_admin;

alter table realtime.messages enable row level security;
grant select, insert, update on realtime.messages to postgres, anon, authenticated, service_role;

create or replace function realtime.topic() returns text
language sql stable
as $$
  select nullif(current_setting('realtime.topic', true), '')::text;
$$;

grant execute on function realtime.topic() to postgres, anon, authenticated, service_role;

-- As Supabase's realtime.send (migrations 20251103001201, 20260605120000):
-- the payload gains an id unless it has one, realtime.topic is set, and a
-- failure is a warning, never the caller's error.
create or replace function realtime.send(
  payload jsonb,
  event text,
  topic text,
  private boolean default true
) returns void
language plpgsql
as $$
declare
  generated_id uuid;
  final_payload jsonb;
begin
  begin
    generated_id := gen_random_uuid();
    if payload ? 'id' then
      final_payload := payload;
    else
      final_payload := jsonb_set(payload, '{id}', to_jsonb(generated_id));
    end if;
    execute format('set local realtime.topic to %L', topic);
    insert into realtime.messages (id, payload, event, topic, private, extension)
    values (generated_id, final_payload, event, topic, private, 'broadcast');
  exception
    when others then
      raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
  end;
end;
$$;

grant execute on function realtime.send(jsonb, text, text, boolean)
  to postgres, anon, authenticated, service_role;

create or replace function realtime.local_notify_broadcast() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform pg_notify('realtime_local_broadcast', new.id::text);
  return null;
end;
$$;

create or replace trigger local_notify_broadcast
  after insert on realtime.messages
  for each row execute function realtime.local_notify_broadcast();
reset role;
