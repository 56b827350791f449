-- =============================================================================
-- Test helpers, installed before the other files (pg_prove and
-- `supabase test db` run this folder in name order, in one database; the
-- PostgreSQL leg of `deno task test` runs this file before each other file
-- on that file's fresh database). basejump's supabase_test_helpers, reduced
-- to what these files use: they act as an actor, then count what a
-- statement changed. Committed: the other files call them.
-- =============================================================================
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
create schema if not exists tests;
grant usage on schema tests to anon, authenticated, service_role;

-- authenticate_as sets the claims a verified JWT of that user carries, then
-- drops to `authenticated`, as private.start_request does for a request.
create or replace function tests.authenticate_as(p_user uuid) returns void
language plpgsql as $$
declare
  v_role text;
begin
  perform set_config('role', 'none', true);
  select u.role::text into strict v_role from public.users u where u.id = p_user;
  perform set_config('request.jwt.claims', json_build_object(
    'sub', p_user, 'jti', gen_random_uuid(), 'role', 'authenticated', 'user_role', v_role
  )::text, true);
  perform set_config('role', 'authenticated', true);
end
$$;

create or replace function tests.authenticate_as_anon() returns void
language plpgsql as $$
begin
  perform set_config('role', 'none', true);
  perform set_config('request.jwt.claims', '{"role":"anon"}', true);
  perform set_config('role', 'anon', true);
end
$$;

create or replace function tests.clear_authentication() returns void
language plpgsql as $$
begin
  perform set_config('role', 'none', true);
  perform set_config('request.jwt.claims', '', true);
end
$$;

-- The number of rows a statement changed, as the current role.
create or replace function tests.affected(p_statement text) returns integer
language plpgsql as $$
declare
  v_rows integer;
begin
  execute p_statement;
  get diagnostics v_rows = row_count;
  return v_rows;
end
$$;

grant execute on all functions in schema tests to anon, authenticated, service_role;

select plan(1);
select has_function('tests', 'authenticate_as', array['uuid'], 'the test helpers are installed');
select * from finish();
commit;
