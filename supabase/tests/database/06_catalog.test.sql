-- =============================================================================
-- RLS matrix: the catalog every signed-in user reads: public.specialties,
-- public.doctor_weekly_hours (and a check each on
-- public.doctor_availability_exceptions and public.clinic_settings). Admins
-- manage them; a doctor manages their own hours.
--
-- Runs with `supabase test db` (pg_prove) and in `deno task test` on the
-- PostgreSQL leg (tests/pgtap.test.ts). One transaction, rolled back: the
-- fixtures never outlive the file.
--
-- Actors (fixed ids; the same in every file of this folder):
--   admin    aa000000-0000-4000-8000-000000000001
--   doctor 1 dd000000-0000-4000-8000-000000000001  Monday 09:00-12:00
--   doctor 2 dd000000-0000-4000-8000-000000000002  Tuesday 09:00-12:00 (no relationship with doctor 1's
--                                                  hours)
--   patient 1 ee000000-0000-4000-8000-000000000001
--   patient 2 ee000000-0000-4000-8000-000000000002
-- =============================================================================
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
set local client_min_messages = warning;

select plan(44);

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


insert into public.doctor_weekly_hours (id, doctor_id, weekday, start_time, end_time) values
  ('bb000000-0000-4000-8000-000000000001', 'dd000000-0000-4000-8000-000000000001', 1, '09:00', '12:00'),
  ('bb000000-0000-4000-8000-000000000002', 'dd000000-0000-4000-8000-000000000002', 2, '09:00', '12:00');

-- -----------------------------------------------------------------------------
-- anon: refused everywhere
-- -----------------------------------------------------------------------------
select tests.authenticate_as_anon();

select throws_ok($$ select * from public.specialties $$, '42501', null,
  'anon: reading specialties is refused');
select throws_ok($$ insert into public.specialties (name) values ('Anon specialty') $$, '42501', null,
  'anon: adding a specialty is refused');
select throws_ok($$ select * from public.doctor_weekly_hours $$, '42501', null,
  'anon: reading weekly hours is refused');
select throws_ok(
  $$ insert into public.doctor_weekly_hours (doctor_id, weekday, start_time, end_time)
     values ('dd000000-0000-4000-8000-000000000001', 3, '09:00', '10:00') $$,
  '42501', null, 'anon: adding weekly hours is refused');
select throws_ok($$ delete from public.doctor_weekly_hours $$, '42501', null,
  'anon: deleting weekly hours is refused');
select throws_ok($$ select * from public.clinic_settings $$, '42501', null,
  'anon: reading the clinic settings is refused');

-- -----------------------------------------------------------------------------
-- admin: manages the catalog
-- -----------------------------------------------------------------------------
select tests.authenticate_as('aa000000-0000-4000-8000-000000000001');

select is((select count(*)::int from public.specialties where id = '5e000000-0000-4000-8000-000000000001'), 1,
  'admin: reads specialties');
select lives_ok(
  $$ insert into public.specialties (id, name) values ('5e000000-0000-4000-8000-000000000002', 'pgTAP dermatology') $$,
  'admin: adds a specialty');
select is(
  tests.affected($$ update public.specialties set description = 'Piel'
                       where id = '5e000000-0000-4000-8000-000000000002' $$),
  1, 'admin: edits a specialty');
select is(
  tests.affected($$ delete from public.specialties where id = '5e000000-0000-4000-8000-000000000002' $$),
  0, 'admin: deletes no specialty (no delete policy)');
select is((select count(*)::int from public.doctor_weekly_hours where id::text like 'bb000000-%'), 2,
  'admin: reads every doctor''s hours');
select lives_ok(
  $$ insert into public.doctor_weekly_hours (id, doctor_id, weekday, start_time, end_time)
     values ('bb000000-0000-4000-8000-000000000003', 'dd000000-0000-4000-8000-000000000001', 3, '09:00', '12:00') $$,
  'admin: adds hours for a doctor');
select is(
  tests.affected($$ update public.doctor_weekly_hours set end_time = '13:00'
                       where id = 'bb000000-0000-4000-8000-000000000002' $$),
  1, 'admin: changes a doctor''s hours');
select is(
  tests.affected($$ delete from public.doctor_weekly_hours where id = 'bb000000-0000-4000-8000-000000000003' $$),
  1, 'admin: removes a doctor''s hours');
select is(
  tests.affected($$ update public.clinic_settings set time_zone = 'America/Argentina/Cordoba' $$),
  1, 'admin: changes the clinic settings');

-- -----------------------------------------------------------------------------
-- doctor 1: their own hours
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000001');

select is((select count(*)::int from public.specialties where id::text like '5e000000-%'), 2,
  'doctor: reads specialties');
select throws_ok($$ insert into public.specialties (name) values ('Doctor specialty') $$, '42501', null,
  'doctor: adding a specialty is refused');
select is(
  tests.affected($$ update public.specialties set name = 'Renamed by a doctor' $$),
  0, 'doctor: edits no specialty');
select is((select count(*)::int from public.doctor_weekly_hours where id::text like 'bb000000-%'), 2,
  'doctor: reads every doctor''s hours (the booking form needs them)');
select lives_ok(
  $$ insert into public.doctor_weekly_hours (id, doctor_id, weekday, start_time, end_time)
     values ('bb000000-0000-4000-8000-000000000004', 'dd000000-0000-4000-8000-000000000001', 4, '14:00', '18:00') $$,
  'doctor: adds their own hours');
select is(
  tests.affected($$ update public.doctor_weekly_hours set start_time = '15:00'
                       where id = 'bb000000-0000-4000-8000-000000000004' $$),
  1, 'doctor: changes their own hours');
select throws_ok(
  $$ insert into public.doctor_weekly_hours (doctor_id, weekday, start_time, end_time)
     values ('dd000000-0000-4000-8000-000000000002', 5, '09:00', '12:00') $$,
  '42501', null, 'doctor: cannot add hours for another doctor');
select throws_ok(
  $$ update public.doctor_weekly_hours set doctor_id = 'dd000000-0000-4000-8000-000000000002'
      where id = 'bb000000-0000-4000-8000-000000000004' $$,
  '42501', null, 'doctor: cannot hand their hours to another doctor');
select is(
  tests.affected($$ update public.doctor_weekly_hours set end_time = '09:30'
                       where id = 'bb000000-0000-4000-8000-000000000002' $$),
  0, 'doctor: cannot change another doctor''s hours');
select is(
  tests.affected($$ delete from public.doctor_weekly_hours where id = 'bb000000-0000-4000-8000-000000000002' $$),
  0, 'doctor: cannot remove another doctor''s hours');
select throws_ok(
  $$ insert into public.doctor_availability_exceptions (doctor_id, kind, starts_at, ends_at)
     values ('dd000000-0000-4000-8000-000000000002', 'unavailable', now() + interval '1 day',
             now() + interval '2 days') $$,
  '42501', null, 'doctor: cannot take a day off for another doctor');
select is(
  tests.affected($$ delete from public.doctor_weekly_hours where id = 'bb000000-0000-4000-8000-000000000004' $$),
  1, 'doctor: removes their own hours');

-- -----------------------------------------------------------------------------
-- doctor 2, on doctor 1's hours
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000002');

select is((select count(*)::int from public.doctor_weekly_hours where id = 'bb000000-0000-4000-8000-000000000001'),
  1, 'other doctor: reads doctor 1''s hours');
select is(
  tests.affected($$ update public.doctor_weekly_hours set start_time = '11:00'
                       where doctor_id = 'dd000000-0000-4000-8000-000000000001' $$),
  0, 'other doctor: cannot change doctor 1''s hours');
select is(
  tests.affected($$ delete from public.doctor_weekly_hours
                       where doctor_id = 'dd000000-0000-4000-8000-000000000001' $$),
  0, 'other doctor: cannot remove doctor 1''s hours');

-- -----------------------------------------------------------------------------
-- patient 1
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000001');

select is((select count(*)::int from public.specialties where id::text like '5e000000-%'), 2,
  'patient: reads specialties');
select is((select count(*)::int from public.doctor_weekly_hours where id::text like 'bb000000-%'), 2,
  'patient: reads doctors'' hours');
select is((select count(*)::int from public.clinic_settings), 1,
  'patient: reads the clinic settings');
select throws_ok($$ insert into public.specialties (name) values ('Patient specialty') $$, '42501', null,
  'patient: adding a specialty is refused');
select is(
  tests.affected($$ update public.specialties set description = 'Changed by a patient' $$),
  0, 'patient: edits no specialty');
select throws_ok(
  $$ insert into public.doctor_weekly_hours (doctor_id, weekday, start_time, end_time)
     values ('dd000000-0000-4000-8000-000000000001', 6, '09:00', '12:00') $$,
  '42501', null, 'patient: cannot add hours for a doctor');
-- The policy's with-check (doctor_id = auth.uid()) lets a patient's own id
-- through; the trigger app.require_doctor refuses it.
select throws_ok(
  $$ insert into public.doctor_weekly_hours (doctor_id, weekday, start_time, end_time)
     values ('ee000000-0000-4000-8000-000000000001', 6, '09:00', '12:00') $$,
  'P0001', 'RES_001', 'patient: cannot publish hours of their own (refused by the trigger)');
select is(
  tests.affected($$ update public.doctor_weekly_hours set start_time = '11:00' $$),
  0, 'patient: changes no hours');
select is(
  tests.affected($$ update public.clinic_settings set time_zone = 'UTC' $$),
  0, 'patient: cannot change the clinic settings');

-- -----------------------------------------------------------------------------
-- patient 2
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000002');

select is(
  tests.affected($$ delete from public.doctor_weekly_hours $$),
  0, 'other patient: removes no hours');
select is(
  tests.affected($$ delete from public.specialties $$),
  0, 'other patient: removes no specialty');

-- -----------------------------------------------------------------------------
-- owner: the rightful writes are stored, the attacks left nothing
-- -----------------------------------------------------------------------------
select tests.clear_authentication();

select results_eq(
  $$ select id, doctor_id, weekday::int, start_time, end_time from public.doctor_weekly_hours
      where id::text like 'bb000000-%' order by id $$,
  $$ values ('bb000000-0000-4000-8000-000000000001'::uuid, 'dd000000-0000-4000-8000-000000000001'::uuid, 1,
             '09:00'::time, '12:00'::time),
            ('bb000000-0000-4000-8000-000000000002', 'dd000000-0000-4000-8000-000000000002', 2, '09:00', '13:00') $$,
  'owner: the hours hold exactly the rightful changes'
);
select is(
  (select time_zone from public.clinic_settings),
  'America/Argentina/Cordoba', 'owner: the clinic settings hold the admin''s change'
);
select is(
  (select count(*)::int from public.specialties where id::text like '5e000000-%'),
  2, 'owner: both specialties are still there'
);

select * from finish();
rollback;
