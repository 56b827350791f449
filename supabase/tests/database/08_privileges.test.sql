-- =============================================================================
-- Table and schema privileges under the policies: what anon and
-- authenticated may do at all, whatever the rows. Row-level security filters
-- SELECT, INSERT, UPDATE and DELETE only; TRUNCATE and CREATE TRIGGER bypass
-- it, so those privileges must not be held by the API roles.
--
-- Runs with `supabase test db` (pg_prove) and in `deno task test` on the
-- PostgreSQL leg (tests/pgtap.test.ts). One transaction, rolled back.
-- =============================================================================
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
set local client_min_messages = warning;

select plan(11);

-- The ordinary tables of the schemas the application owns.
create function pg_temp.tables_where(p_schemas text[], p_role text, p_privileges text) returns text[]
language sql stable as $$
  select coalesce(array_agg(format('%I.%I', n.nspname, c.relname) order by n.nspname, c.relname), '{}')
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
   where c.relkind in ('r', 'p') and n.nspname = any (p_schemas)
     and has_table_privilege(p_role, c.oid, p_privileges)
$$;

-- -----------------------------------------------------------------------------
-- anon
-- -----------------------------------------------------------------------------
select is(
  pg_temp.tables_where('{public,private}', 'anon', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'),
  '{}'::text[], 'anon: holds no privilege on any table of public or private'
);
select is(has_schema_privilege('anon', 'app', 'USAGE'), false, 'anon: cannot use schema app (its helpers)');
select is(has_schema_privilege('anon', 'private', 'USAGE'), false, 'anon: cannot use schema private');

-- -----------------------------------------------------------------------------
-- authenticated (every signed-in user, whatever their role)
-- -----------------------------------------------------------------------------
select is(has_schema_privilege('authenticated', 'private', 'USAGE'), false,
  'authenticated: cannot use schema private');
select is(
  pg_temp.tables_where('{private}', 'authenticated', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'),
  '{}'::text[], 'authenticated: holds no privilege on any table of private'
);
select is(
  pg_temp.tables_where('{public}', 'authenticated', 'DELETE') <@ array[
    'public.chat_blocks', 'public.clinic_settings', 'public.doctor_availability_exceptions',
    'public.doctor_weekly_hours', 'public.push_subscriptions', 'public.specialties'
  ],
  true, 'authenticated: may DELETE only from the catalog tables, chat blocks and their own push subscriptions '
        '(whose policies decide)'
);
select is(
  has_table_privilege('authenticated', 'public.audit_events', 'INSERT, UPDATE, DELETE'),
  false, 'authenticated: cannot write the audit log directly (app.audit is the door)'
);
select is(
  array(select p.oid::regprocedure::text
          from pg_proc p
         where p.pronamespace in ('app'::regnamespace, 'private'::regnamespace) and p.prosecdef
           and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) c where c like 'search_path=%')
         order by 1),
  '{}'::text[], 'every security definer function of app and private pins its search_path'
);

-- Supabase's default privileges (`grant all on tables` to the API roles)
-- include TRUNCATE, which skips row-level security, and TRIGGER, which lets a
-- caller attach a trigger to any table: the migrations take both back.
select is(
  pg_temp.tables_where('{public}', 'authenticated', 'TRUNCATE'),
  '{}'::text[], 'authenticated: may TRUNCATE no table (TRUNCATE skips row-level security)'
);
select is(
  pg_temp.tables_where('{public}', 'authenticated', 'TRIGGER'),
  '{}'::text[], 'authenticated: may create triggers on no table'
);
do $$
begin
  perform set_config('request.jwt.claims',
    '{"sub":"ee000000-0000-4000-8000-000000000001","role":"authenticated","user_role":"patient"}', true);
end
$$;
set local role authenticated;
select throws_ok(
  $$ create trigger pgtap_planted before insert on public.users
     for each row execute function app.set_updated_at() $$,
  '42501', null, 'authenticated: cannot plant a trigger on public.users'
);
reset role;

select * from finish();
rollback;
