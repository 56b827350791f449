-- =============================================================================
-- RLS matrix: public.users (profiles, the doctor directory).
--
-- Runs with `supabase test db` (pg_prove) and in `deno task test` on the
-- PostgreSQL leg (tests/pgtap.test.ts). One transaction, rolled back: the
-- fixtures never outlive the file.
--
-- Actors (fixed ids; the same in every file of this folder):
--   admin    aa000000-0000-4000-8000-000000000001
--   doctor 1 dd000000-0000-4000-8000-000000000001  has an appointment with patient 1
--   doctor 2 dd000000-0000-4000-8000-000000000002  has an appointment with patient 2 only
--   patient 1 ee000000-0000-4000-8000-000000000001
--   patient 2 ee000000-0000-4000-8000-000000000002
-- =============================================================================
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
set local client_min_messages = warning;

select plan(43);

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

-- -----------------------------------------------------------------------------
-- anon: refused everywhere
-- -----------------------------------------------------------------------------
select tests.authenticate_as_anon();

select throws_ok(
  $$ select * from public.users $$,
  '42501', null, 'anon: reading users is refused'
);
select throws_ok(
  $$ insert into public.users (role, name, last_name, phone, email)
     values ('admin', 'Eve', 'Anon', '+5490000000099', 'eve@pgtap.test') $$,
  '42501', null, 'anon: creating a user is refused'
);
select throws_ok(
  $$ update public.users set role = 'admin' $$,
  '42501', null, 'anon: updating users is refused'
);
select throws_ok(
  $$ select * from app.doctor_directory() $$,
  '42501', null, 'anon: the doctor directory is refused'
);

-- -----------------------------------------------------------------------------
-- admin: every user, and writes them
-- -----------------------------------------------------------------------------
select tests.authenticate_as('aa000000-0000-4000-8000-000000000001');

select is(
  (select count(*)::int from public.users where email like '%@pgtap.test'),
  5, 'admin: reads every user'
);
select lives_ok(
  $$ insert into public.users (id, role, name, last_name, phone, email)
     values ('ee000000-0000-4000-8000-000000000009', 'patient', 'New', 'Patient', '+5490000000009',
             'new@pgtap.test') $$,
  'admin: creates a user'
);
select is(
  tests.affected($$ update public.users set name = 'Pia Renamed'
                       where id = 'ee000000-0000-4000-8000-000000000001' $$),
  1, 'admin: updates another user'
);
select is(
  tests.affected($$ update public.users set is_active = false
                       where id = 'ee000000-0000-4000-8000-000000000009' $$),
  1, 'admin: deactivates a user'
);
select throws_ok(
  $$ delete from public.users where id = 'ee000000-0000-4000-8000-000000000009' $$,
  '42501', null, 'admin: deleting a user row is refused (deletion is soft)'
);

-- -----------------------------------------------------------------------------
-- doctor 1, with a relationship to patient 1
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000001');

select is(
  (select count(*)::int from public.users where id = 'dd000000-0000-4000-8000-000000000001'),
  1, 'doctor with relationship: reads their own profile'
);
select is(
  (select count(*)::int from public.users where id = 'ee000000-0000-4000-8000-000000000001'),
  1, 'doctor with relationship: reads their patient''s profile'
);
select is(
  (select count(*)::int from public.users where email like '%@pgtap.test'),
  2, 'doctor with relationship: reads nobody else (no admin, no other doctor, no other patient)'
);
select is(
  tests.affected($$ update public.users set name = 'Pia Edited'
                       where id = 'ee000000-0000-4000-8000-000000000001' $$),
  1, 'doctor with relationship: updates their patient''s profile'
);
select throws_ok(
  $$ update public.users set role = 'admin' where id = 'ee000000-0000-4000-8000-000000000001' $$,
  'P0001', 'AUTH_002', 'doctor with relationship: cannot change their patient''s role'
);
select throws_ok(
  $$ update public.users set is_active = false where id = 'ee000000-0000-4000-8000-000000000001' $$,
  'P0001', 'AUTH_002', 'doctor with relationship: cannot deactivate their patient'
);
select is(
  tests.affected($$ update public.users set role = 'admin'
                       where id = 'dd000000-0000-4000-8000-000000000001' $$),
  0, 'doctor: cannot promote themselves'
);
select is(
  tests.affected($$ update public.users set name = 'Hijacked'
                       where id in ('dd000000-0000-4000-8000-000000000002',
                                    'aa000000-0000-4000-8000-000000000001') $$),
  0, 'doctor: cannot update another doctor or an admin'
);
select throws_ok(
  $$ insert into public.users (role, name, last_name, phone, email)
     values ('admin', 'Eve', 'Doctor', '+5490000000098', 'eve.doctor@pgtap.test') $$,
  '42501', null, 'doctor: creating a user directly is refused'
);
select is(
  (select count(*)::int from app.doctor_directory() where id = 'dd000000-0000-4000-8000-000000000002'),
  1, 'doctor: knows other doctors through the directory (names only)'
);

-- -----------------------------------------------------------------------------
-- doctor 2, without a relationship to patient 1
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000002');

select is(
  (select count(*)::int from public.users where id = 'ee000000-0000-4000-8000-000000000001'),
  0, 'doctor without relationship: does not see patient 1'
);
select is(
  (select count(*)::int from public.users where id = 'ee000000-0000-4000-8000-000000000002'),
  1, 'doctor without relationship: sees their own patient 2'
);
select is(
  tests.affected($$ update public.users set phone = '+5490000000097'
                       where id = 'ee000000-0000-4000-8000-000000000001' $$),
  0, 'doctor without relationship: cannot change patient 1''s phone'
);
select is(
  (select count(*)::int from public.users where email like '%@pgtap.test'),
  2, 'doctor without relationship: reads only themselves and their patient'
);

-- -----------------------------------------------------------------------------
-- patient 1, themselves
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000001');

select is(
  (select count(*)::int from public.users where id = 'ee000000-0000-4000-8000-000000000001'),
  1, 'patient: reads their own profile'
);
select is(
  (select count(*)::int from public.users where email like '%@pgtap.test'),
  1, 'patient: reads no other user'
);
select is(
  (select count(*)::int from public.users where id = 'dd000000-0000-4000-8000-000000000001'),
  0, 'patient: does not read their doctor''s user row (phone, email)'
);
select is(
  (select count(*)::int from app.doctor_directory() where id = 'dd000000-0000-4000-8000-000000000001'),
  1, 'patient: knows their doctor through the directory'
);
select is(
  (select count(*)::int
     from pg_proc p, unnest(p.proargnames) as arg(name)
    where p.oid = 'app.doctor_directory()'::regprocedure and arg.name in ('phone', 'email')),
  0, 'patient: the directory answers no phone and no email'
);
select is(
  tests.affected($$ update public.users set role = 'admin'
                       where id = 'ee000000-0000-4000-8000-000000000001' $$),
  0, 'patient: cannot promote themselves'
);
select is(
  tests.affected($$ update public.users set deleted_at = null, is_active = true $$),
  0, 'patient: updates no user at all'
);
select throws_ok(
  $$ insert into public.users (role, name, last_name, phone, email)
     values ('admin', 'Eve', 'Patient', '+5490000000096', 'eve.patient@pgtap.test') $$,
  '42501', null, 'patient: creating a user is refused'
);
select throws_ok(
  $$ delete from public.users where id = 'ee000000-0000-4000-8000-000000000001' $$,
  '42501', null, 'patient: deleting a user is refused'
);
select throws_ok(
  $$ select app.register_patient('Eve', 'Patient', '+5490000000095', 'eve2@pgtap.test', 'Calle Falsa 123',
                                 null, null, null) $$,
  'P0001', 'AUTH_002', 'patient: cannot register patients'
);

-- -----------------------------------------------------------------------------
-- patient 2, another patient
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000002');

select is(
  (select count(*)::int from public.users where id = 'ee000000-0000-4000-8000-000000000001'),
  0, 'other patient: does not see patient 1'
);
select is(
  tests.affected($$ update public.users set email = 'stolen@pgtap.test'
                       where id = 'ee000000-0000-4000-8000-000000000001' $$),
  0, 'other patient: cannot change patient 1''s email'
);
select is(
  (select count(*)::int from public.users where id = 'ee000000-0000-4000-8000-000000000002'),
  1, 'other patient: reads their own profile'
);

-- -----------------------------------------------------------------------------
-- A deleted or deactivated profile, and what the owner sees after the writes
-- -----------------------------------------------------------------------------
select tests.clear_authentication();
update public.users set deleted_at = now() where id = 'ee000000-0000-4000-8000-000000000002';

select tests.authenticate_as('ee000000-0000-4000-8000-000000000002');
select is(
  (select count(*)::int from public.users where id = 'ee000000-0000-4000-8000-000000000002'),
  0, 'deleted patient: no longer reads their own profile'
);

select tests.authenticate_as('dd000000-0000-4000-8000-000000000001');
select lives_ok(
  $$ select app.register_patient('Reg', 'Istered', '+5490000000094', 'registered@pgtap.test',
                                 'Calle Nueva 444', 'female', '1990-01-01', null) $$,
  'doctor: registers a patient'
);
select is(
  (select count(*)::int from public.users where email = 'registered@pgtap.test'),
  1, 'doctor: reads the patient they registered'
);

select tests.clear_authentication();
select is(
  (select name from public.users where id = 'ee000000-0000-4000-8000-000000000001'),
  'Pia Edited', 'owner: the doctor''s rightful edit is stored'
);
select is(
  (select phone from public.users where id = 'ee000000-0000-4000-8000-000000000001'),
  '+5490000000004', 'owner: the refused phone change left the phone as it was'
);
select is(
  (select role::text from public.users where id = 'dd000000-0000-4000-8000-000000000001'),
  'doctor', 'owner: the doctor is still a doctor'
);
select is(
  (select count(*)::int from public.users where role = 'admin' and email like '%@pgtap.test'),
  1, 'owner: no admin was created by the attacks'
);

select * from finish();
rollback;
