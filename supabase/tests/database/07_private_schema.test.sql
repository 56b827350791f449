-- =============================================================================
-- The private schema (password hashes, sessions, one-time codes, rate
-- limits): refused to anon and to every signed-in user, whatever their role;
-- only service_role (the privileged path) reads it. A signed-in user reaches
-- it only through the narrow doors in app.* (logout, an admin ending sessions
-- or setting a password), and each request enters through
-- private.start_request, which checks the session.
--
-- Runs with `supabase test db` (pg_prove) and in `deno task test` on the
-- PostgreSQL leg (tests/pgtap.test.ts). One transaction, rolled back: the
-- fixtures never outlive the file.
--
-- Actors (fixed ids; the same in every file of this folder):
--   admin    aa000000-0000-4000-8000-000000000001
--   doctor 1 dd000000-0000-4000-8000-000000000001  session 3 (revoked)
--   doctor 2 dd000000-0000-4000-8000-000000000002  session 5 (live)
--   patient 1 ee000000-0000-4000-8000-000000000001  session 1 (live)
--   patient 2 ee000000-0000-4000-8000-000000000002  session 2 (live), session 4 (expired)
-- =============================================================================
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
set local client_min_messages = warning;

select plan(36);

-- Helpers: tests.authenticate_as & co., from 00_test_helpers.test.sql.

-- -----------------------------------------------------------------------------
-- Fixtures, as the owner (outside RLS)
-- -----------------------------------------------------------------------------
insert into public.specialties (id, name) values ('5e000000-0000-4000-8000-000000000001', 'pgTAP specialty');

insert into public.users (id, role, name, last_name, phone, email, specialty_id) values
  ('aa000000-0000-4000-8000-000000000001', 'admin', 'Ada', 'Admin', '+5490000000001', 'admin@pgtap.test', null),
  ('dd000000-0000-4000-8000-000000000001', 'doctor', 'Dora', 'One', '+5490000000002', 'doctor1@pgtap.test',
   '5e000000-0000-4000-8000-000000000001'),
  ('dd000000-0000-4000-8000-000000000002', 'doctor', 'Dan', 'Two', '+5490000000003', 'doctor2@pgtap.test',
   '5e000000-0000-4000-8000-000000000001'),
  ('ee000000-0000-4000-8000-000000000001', 'patient', 'Pia', 'One', '+5490000000004', 'patient1@pgtap.test', null),
  ('ee000000-0000-4000-8000-000000000002', 'patient', 'Pablo', 'Two', '+5490000000005', 'patient2@pgtap.test',
   null);

insert into public.patients (id, address, created_by) values
  ('ee000000-0000-4000-8000-000000000001', 'Calle Uno 111', 'aa000000-0000-4000-8000-000000000001'),
  ('ee000000-0000-4000-8000-000000000002', 'Calle Dos 222', 'aa000000-0000-4000-8000-000000000001');

insert into public.appointments (id, patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, created_by)
values
  ('a1000000-0000-4000-8000-000000000001', 'ee000000-0000-4000-8000-000000000001',
   'dd000000-0000-4000-8000-000000000001', '5e000000-0000-4000-8000-000000000001', 'Control',
   date_trunc('hour', now()) + interval '2 days', date_trunc('hour', now()) + interval '2 days 30 minutes',
   'aa000000-0000-4000-8000-000000000001'),
  ('a1000000-0000-4000-8000-000000000002', 'ee000000-0000-4000-8000-000000000002',
   'dd000000-0000-4000-8000-000000000002', '5e000000-0000-4000-8000-000000000001', 'Control',
   date_trunc('hour', now()) + interval '2 days', date_trunc('hour', now()) + interval '2 days 30 minutes',
   'aa000000-0000-4000-8000-000000000001');


insert into private.sessions (jti, user_id, expires_at, revoked_at, revoked_reason) values
  ('5e551000-0000-4000-8000-000000000001', 'ee000000-0000-4000-8000-000000000001', now() + interval '30 days',
   null, null),
  ('5e551000-0000-4000-8000-000000000002', 'ee000000-0000-4000-8000-000000000002', now() + interval '30 days',
   null, null),
  ('5e551000-0000-4000-8000-000000000003', 'dd000000-0000-4000-8000-000000000001', now() + interval '30 days',
   now(), 'logout'),
  ('5e551000-0000-4000-8000-000000000004', 'ee000000-0000-4000-8000-000000000002', now() - interval '1 minute',
   null, null),
  ('5e551000-0000-4000-8000-000000000005', 'dd000000-0000-4000-8000-000000000002', now() + interval '30 days',
   null, null);
insert into private.credentials (user_id, password_hash, password_changed_at) values
  ('ee000000-0000-4000-8000-000000000001', '$argon2id$v=19$m=19456,t=2,p=1$fixture$fixture', now());
insert into private.password_reset_codes (user_id, code_hash, expires_at) values
  ('ee000000-0000-4000-8000-000000000001', 'fixture-hmac', now() + interval '10 minutes');
insert into private.rate_limit_hits (key, window_start, hits) values ('pgtap-fixture-key', now(), 1);

-- The claims of a token: its user and its jti.
create function pg_temp.claims(p_user uuid, p_jti uuid) returns text
language sql as $$
  select json_build_object('sub', p_user, 'jti', p_jti, 'role', 'authenticated',
                           'user_role', (select u.role from public.users u where u.id = p_user))::text
$$;

-- Signed in as p_user presenting the token p_jti, without the session check.
create function pg_temp.authenticate_with(p_user uuid, p_jti uuid) returns void
language plpgsql as $$
begin
  perform set_config('role', 'none', true);
  perform set_config('request.jwt.claims', pg_temp.claims(p_user, p_jti), true);
  perform set_config('role', 'authenticated', true);
end
$$;

-- -----------------------------------------------------------------------------
-- anon: refused everywhere
-- -----------------------------------------------------------------------------
select tests.authenticate_as_anon();

select throws_ok($$ select * from private.sessions $$, '42501', null, 'anon: private.sessions is refused');
select throws_ok($$ select * from private.credentials $$, '42501', null, 'anon: private.credentials is refused');
select throws_ok($$ select * from private.password_reset_codes $$, '42501', null,
  'anon: private.password_reset_codes is refused');
select throws_ok($$ select * from private.rate_limit_hits $$, '42501', null,
  'anon: private.rate_limit_hits is refused');
select throws_ok(
  $$ select private.start_request(pg_temp.claims('ee000000-0000-4000-8000-000000000001',
                                                 '5e551000-0000-4000-8000-000000000001')::jsonb) $$,
  '42501', null, 'anon: private.start_request is refused');
select throws_ok($$ select app.end_current_session() $$, '42501', null, 'anon: app.end_current_session is refused');

-- -----------------------------------------------------------------------------
-- admin: refused too (the doors in app.* are theirs)
-- -----------------------------------------------------------------------------
select tests.authenticate_as('aa000000-0000-4000-8000-000000000001');

select throws_ok($$ select * from private.sessions $$, '42501', null, 'admin: private.sessions is refused');
select throws_ok($$ select * from private.credentials $$, '42501', null, 'admin: private.credentials is refused');
select throws_ok(
  $$ insert into private.sessions (jti, user_id, expires_at)
     values (gen_random_uuid(), 'aa000000-0000-4000-8000-000000000001', now() + interval '1 year') $$,
  '42501', null, 'admin: minting a session is refused');
select throws_ok(
  $$ select private.end_sessions('ee000000-0000-4000-8000-000000000001', 'admin') $$,
  '42501', null, 'admin: private.end_sessions is refused (app.end_user_sessions is the door)');
select is(
  app.end_user_sessions('ee000000-0000-4000-8000-000000000002'),
  2, 'admin: ends every open session of a user through app.end_user_sessions'
);
select lives_ok(
  $$ select app.set_user_password('ee000000-0000-4000-8000-000000000002', '$argon2id$v=19$m=19456,t=2,p=1$a$b') $$,
  'admin: sets a user''s password through app.set_user_password'
);

-- -----------------------------------------------------------------------------
-- doctor 1, with a relationship to patient 1
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000001');

select throws_ok($$ select password_hash from private.credentials $$, '42501', null,
  'doctor with relationship: their patient''s password hash is refused');
select throws_ok($$ update private.sessions set revoked_at = null, revoked_reason = null $$, '42501', null,
  'doctor: reviving a session is refused');
select throws_ok($$ select * from private.password_reset_codes $$, '42501', null,
  'doctor: reset codes are refused');
select throws_ok($$ delete from private.rate_limit_hits $$, '42501', null,
  'doctor: resetting rate limits is refused');
select throws_ok(
  $$ select * from private.hit_rate_limit('pgtap-fixture-key', 60, 10) $$,
  '42501', null, 'doctor: private.hit_rate_limit is refused');
select throws_ok(
  $$ select app.end_user_sessions('ee000000-0000-4000-8000-000000000001') $$,
  'P0001', 'AUTH_002', 'doctor: cannot end a user''s sessions');

-- -----------------------------------------------------------------------------
-- doctor 2, without a relationship to patient 1
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000002');

select throws_ok($$ select * from private.sessions $$, '42501', null,
  'doctor without relationship: private.sessions is refused');
select throws_ok(
  $$ select app.set_user_password('ee000000-0000-4000-8000-000000000001', '$argon2id$v=19$m=19456,t=2,p=1$a$b') $$,
  'P0001', 'AUTH_002', 'doctor without relationship: cannot set patient 1''s password (admin door)');
select throws_ok(
  $$ select app.set_patient_password('ee000000-0000-4000-8000-000000000001', '$argon2id$v=19$m=19456,t=2,p=1$a$b') $$,
  'P0001', 'RES_001', 'doctor without relationship: cannot set patient 1''s password (patient door)');

-- -----------------------------------------------------------------------------
-- patient 1, themselves: the request door, then logout
-- -----------------------------------------------------------------------------
select tests.clear_authentication();
select private.start_request(pg_temp.claims('ee000000-0000-4000-8000-000000000001',
                                            '5e551000-0000-4000-8000-000000000001')::jsonb);

select is(
  current_user::text || ' ' || auth.uid()::text,
  'authenticated ee000000-0000-4000-8000-000000000001',
  'patient: a live session starts the request as authenticated, as themselves'
);
select throws_ok($$ select * from private.sessions $$, '42501', null, 'patient: private.sessions is refused');
select throws_ok($$ select * from private.credentials $$, '42501', null, 'patient: private.credentials is refused');
select throws_ok(
  $$ select private.start_request(pg_temp.claims('aa000000-0000-4000-8000-000000000001',
                                                 '5e551000-0000-4000-8000-000000000001')::jsonb) $$,
  '42501', null, 'patient: cannot call private.start_request again to become someone else');
select is(app.end_current_session(), true, 'patient: logs out (ends their current session)');

select tests.clear_authentication();
select throws_ok(
  $$ select private.start_request(pg_temp.claims('ee000000-0000-4000-8000-000000000001',
                                                 '5e551000-0000-4000-8000-000000000001')::jsonb) $$,
  'P0001', 'AUTH_001', 'patient: the ended session no longer starts a request');

-- -----------------------------------------------------------------------------
-- patient 2, another patient: someone else's session
-- -----------------------------------------------------------------------------
select throws_ok(
  $$ select private.start_request(pg_temp.claims('ee000000-0000-4000-8000-000000000002',
                                                 '5e551000-0000-4000-8000-000000000005')::jsonb) $$,
  'P0001', 'AUTH_001', 'other patient: another user''s live session (jti) does not start their request');
select throws_ok(
  $$ select private.start_request(pg_temp.claims('ee000000-0000-4000-8000-000000000002',
                                                 '5e551000-0000-4000-8000-000000000004')::jsonb) $$,
  'P0001', 'AUTH_001', 'other patient: an expired session does not start a request');
select throws_ok(
  $$ select private.start_request(pg_temp.claims('dd000000-0000-4000-8000-000000000001',
                                                 '5e551000-0000-4000-8000-000000000003')::jsonb) $$,
  'P0001', 'AUTH_001', 'a revoked session does not start a request');
select throws_ok(
  $$ select private.start_request(pg_temp.claims('ee000000-0000-4000-8000-000000000002',
                                                 '5e551000-0000-4000-8000-000000000002')::jsonb
                                  || '{"user_role": "doctor"}') $$,
  'P0001', 'AUTH_001', 'other patient: their own live session with another user_role does not start a request');
select throws_ok(
  $$ select private.start_request(pg_temp.claims('ee000000-0000-4000-8000-000000000002',
                                                 '5e551000-0000-4000-8000-000000000002')::jsonb, 'another-kid') $$,
  'P0001', 'AUTH_001', 'other patient: their own live session signed by another key does not start a request');

select pg_temp.authenticate_with('ee000000-0000-4000-8000-000000000002', '5e551000-0000-4000-8000-000000000005');
select is(app.end_current_session(), false,
  'other patient: logout with another user''s jti ends nothing');
select throws_ok($$ select * from private.rate_limit_hits $$, '42501', null,
  'other patient: private.rate_limit_hits is refused');

-- -----------------------------------------------------------------------------
-- service_role (the privileged path) reads it; the owner checks the doors
-- -----------------------------------------------------------------------------
select tests.clear_authentication();
set local role service_role;
select is(
  (select count(*)::int from private.sessions where jti::text like '5e551000-%'),
  5, 'service_role: reads private.sessions'
);
select tests.clear_authentication();

select results_eq(
  $$ select jti, revoked_reason from private.sessions where jti::text like '5e551000-%' order by jti $$,
  $$ values ('5e551000-0000-4000-8000-000000000001'::uuid, 'logout'),
            ('5e551000-0000-4000-8000-000000000002', 'admin'),
            ('5e551000-0000-4000-8000-000000000003', 'logout'),
            ('5e551000-0000-4000-8000-000000000004', 'admin'),
            ('5e551000-0000-4000-8000-000000000005', null) $$,
  'owner: only the logout and the admin''s ending changed the sessions (doctor 2''s stays live)'
);

select * from finish();
rollback;
