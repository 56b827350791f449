-- =============================================================================
-- RLS matrix: public.appointments (schedules: admins see them all, doctors
-- their own, patients theirs).
--
-- Runs with `supabase test db` (pg_prove) and in `deno task test` on the
-- PostgreSQL leg (tests/pgtap.test.ts). One transaction, rolled back: the
-- fixtures never outlive the file.
--
-- Actors (fixed ids; the same in every file of this folder):
--   admin    aa000000-0000-4000-8000-000000000001
--   doctor 1 dd000000-0000-4000-8000-000000000001  appointments 1 (upcoming) and 3 (completed)
--                                                  with patient 1
--   doctor 2 dd000000-0000-4000-8000-000000000002  appointment 2 with patient 2 only
--   patient 1 ee000000-0000-4000-8000-000000000001
--   patient 2 ee000000-0000-4000-8000-000000000002
-- =============================================================================
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
set local client_min_messages = warning;

select plan(37);

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


-- A completed appointment a week ago: booked in the future (the trigger
-- refuses a start in the past), then moved back with the trigger off.
insert into public.appointments (id, patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, created_by)
values
  ('a1000000-0000-4000-8000-000000000003', 'ee000000-0000-4000-8000-000000000001',
   'dd000000-0000-4000-8000-000000000001', '5e000000-0000-4000-8000-000000000001', 'First visit',
   date_trunc('hour', now()) + interval '1 day', date_trunc('hour', now()) + interval '1 day 30 minutes',
   'aa000000-0000-4000-8000-000000000001');
alter table public.appointments disable trigger appointments_check;
update public.appointments
   set starts_at = date_trunc('hour', now()) - interval '7 days',
       ends_at = date_trunc('hour', now()) - interval '7 days' + interval '30 minutes',
       status = 'COMPLETED'
 where id = 'a1000000-0000-4000-8000-000000000003';
alter table public.appointments enable trigger appointments_check;

-- -----------------------------------------------------------------------------
-- anon: refused everywhere
-- -----------------------------------------------------------------------------
select tests.authenticate_as_anon();

select throws_ok(
  $$ select * from public.appointments $$,
  '42501', null, 'anon: reading appointments is refused'
);
select throws_ok(
  $$ insert into public.appointments (patient_id, doctor_id, specialty_id, reason, starts_at, ends_at)
     values ('ee000000-0000-4000-8000-000000000001', 'dd000000-0000-4000-8000-000000000001',
             '5e000000-0000-4000-8000-000000000001', 'Anon booking', now() + interval '9 days',
             now() + interval '9 days 30 minutes') $$,
  '42501', null, 'anon: booking is refused'
);
select throws_ok(
  $$ update public.appointments set status = 'CANCELLED' $$,
  '42501', null, 'anon: changing appointments is refused'
);
select throws_ok(
  $$ select * from app.doctor_free_slots('dd000000-0000-4000-8000-000000000001', now(), now() + interval '1 day') $$,
  '42501', null, 'anon: free slots are refused'
);

-- -----------------------------------------------------------------------------
-- admin: every appointment
-- -----------------------------------------------------------------------------
select tests.authenticate_as('aa000000-0000-4000-8000-000000000001');

select is(
  (select count(*)::int from public.appointments where id::text like 'a1000000-%'),
  3, 'admin: reads every appointment'
);
select lives_ok(
  $$ insert into public.appointments (patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, created_by)
     values ('ee000000-0000-4000-8000-000000000002', 'dd000000-0000-4000-8000-000000000002',
             '5e000000-0000-4000-8000-000000000001', 'Booked by the front desk',
             date_trunc('hour', now()) + interval '5 days',
             date_trunc('hour', now()) + interval '5 days 30 minutes', 'aa000000-0000-4000-8000-000000000001') $$,
  'admin: books an appointment'
);
select throws_ok(
  $$ insert into public.appointments (patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, created_by)
     values ('ee000000-0000-4000-8000-000000000002', 'dd000000-0000-4000-8000-000000000002',
             '5e000000-0000-4000-8000-000000000001', 'Forged author',
             date_trunc('hour', now()) + interval '6 days',
             date_trunc('hour', now()) + interval '6 days 30 minutes', 'dd000000-0000-4000-8000-000000000002') $$,
  '42501', null, 'admin: cannot book in someone else''s name (created_by)'
);
select is(
  tests.affected($$ update public.appointments set reason = 'Control anual'
                       where id = 'a1000000-0000-4000-8000-000000000002' $$),
  1, 'admin: changes any appointment'
);
select throws_ok(
  $$ delete from public.appointments where id = 'a1000000-0000-4000-8000-000000000002' $$,
  '42501', null, 'admin: deleting an appointment is refused (cancel instead)'
);

-- -----------------------------------------------------------------------------
-- doctor 1, with a relationship to patient 1
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000001');

select set_eq(
  $$ select id from public.appointments where id::text like 'a1000000-%' $$,
  $$ values ('a1000000-0000-4000-8000-000000000001'::uuid), ('a1000000-0000-4000-8000-000000000003') $$,
  'doctor with relationship: reads exactly their own schedule (upcoming and completed)'
);
select is(
  tests.affected($$ update public.appointments set status = 'CONFIRMED'
                       where id = 'a1000000-0000-4000-8000-000000000001' $$),
  1, 'doctor with relationship: confirms their appointment'
);
select lives_ok(
  $$ insert into public.appointments (patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, created_by)
     values ('ee000000-0000-4000-8000-000000000001', 'dd000000-0000-4000-8000-000000000001',
             '5e000000-0000-4000-8000-000000000001', 'Follow-up',
             date_trunc('hour', now()) + interval '3 days',
             date_trunc('hour', now()) + interval '3 days 30 minutes', 'dd000000-0000-4000-8000-000000000001') $$,
  'doctor with relationship: books their patient into their own schedule'
);
select throws_ok(
  $$ insert into public.appointments (patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, created_by)
     values ('ee000000-0000-4000-8000-000000000001', 'dd000000-0000-4000-8000-000000000002',
             '5e000000-0000-4000-8000-000000000001', 'Into a colleague''s schedule',
             date_trunc('hour', now()) + interval '3 days',
             date_trunc('hour', now()) + interval '3 days 30 minutes', 'dd000000-0000-4000-8000-000000000001') $$,
  '42501', null, 'doctor: cannot book into another doctor''s schedule'
);
select throws_ok(
  $$ insert into public.appointments (patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, created_by)
     values ('ee000000-0000-4000-8000-000000000002', 'dd000000-0000-4000-8000-000000000001',
             '5e000000-0000-4000-8000-000000000001', 'Grab a patient',
             date_trunc('hour', now()) + interval '4 days',
             date_trunc('hour', now()) + interval '4 days 30 minutes', 'dd000000-0000-4000-8000-000000000001') $$,
  '42501', null, 'doctor: cannot book someone who is not their patient (would gain access to them)'
);
select is(
  tests.affected($$ update public.appointments set status = 'CANCELLED'
                       where id = 'a1000000-0000-4000-8000-000000000002' $$),
  0, 'doctor: cannot change another doctor''s appointment'
);
select throws_ok(
  $$ update public.appointments set doctor_id = 'dd000000-0000-4000-8000-000000000002'
      where id = 'a1000000-0000-4000-8000-000000000001' $$,
  'P0001', 'VAL_001', 'doctor: cannot move their appointment to another doctor (refused by the trigger)'
);
select throws_ok(
  $$ delete from public.appointments where id = 'a1000000-0000-4000-8000-000000000001' $$,
  '42501', null, 'doctor: deleting an appointment is refused'
);

-- -----------------------------------------------------------------------------
-- doctor 2, without a relationship to patient 1
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000002');

select is(
  (select count(*)::int from public.appointments where patient_id = 'ee000000-0000-4000-8000-000000000001'),
  0, 'doctor without relationship: sees none of patient 1''s appointments'
);
select is(
  (select count(*)::int from public.appointments where doctor_id = 'dd000000-0000-4000-8000-000000000001'),
  0, 'doctor without relationship: does not read another doctor''s schedule'
);
select is(
  tests.affected($$ update public.appointments set status = 'CANCELLED'
                       where patient_id = 'ee000000-0000-4000-8000-000000000001' $$),
  0, 'doctor without relationship: cannot cancel patient 1''s appointments'
);
select is(
  (select count(*)::int from public.appointments where doctor_id = 'dd000000-0000-4000-8000-000000000002'),
  2, 'doctor without relationship: reads their own schedule'
);
select lives_ok(
  $$ select * from app.doctor_free_slots('dd000000-0000-4000-8000-000000000001',
                                         date_trunc('hour', now()) + interval '2 days',
                                         date_trunc('hour', now()) + interval '2 days 2 hours') $$,
  'doctor: may ask for a colleague''s free slots (times only)'
);

-- -----------------------------------------------------------------------------
-- patient 1, themselves
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000001');

select is(
  (select count(*)::int from public.appointments where id::text like 'a1000000-%'),
  2, 'patient: reads their own appointments (upcoming and completed), nobody else''s'
);
select lives_ok(
  $$ insert into public.appointments (patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, created_by)
     values ('ee000000-0000-4000-8000-000000000001', 'dd000000-0000-4000-8000-000000000001',
             '5e000000-0000-4000-8000-000000000001', 'Booked by myself',
             date_trunc('hour', now()) + interval '6 days',
             date_trunc('hour', now()) + interval '6 days 30 minutes', 'ee000000-0000-4000-8000-000000000001') $$,
  'patient: books for themselves'
);
select throws_ok(
  $$ insert into public.appointments (patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, created_by)
     values ('ee000000-0000-4000-8000-000000000002', 'dd000000-0000-4000-8000-000000000001',
             '5e000000-0000-4000-8000-000000000001', 'For somebody else',
             date_trunc('hour', now()) + interval '7 days',
             date_trunc('hour', now()) + interval '7 days 30 minutes', 'ee000000-0000-4000-8000-000000000001') $$,
  '42501', null, 'patient: cannot book for another patient'
);
select throws_ok(
  $$ insert into public.appointments (patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, created_by,
                                      status)
     values ('ee000000-0000-4000-8000-000000000001', 'dd000000-0000-4000-8000-000000000001',
             '5e000000-0000-4000-8000-000000000001', 'Already confirmed?',
             date_trunc('hour', now()) + interval '8 days',
             date_trunc('hour', now()) + interval '8 days 30 minutes', 'ee000000-0000-4000-8000-000000000001',
             'CONFIRMED') $$,
  'P0001', 'APP_002', 'patient: cannot book an appointment already confirmed'
);
select is(
  tests.affected($$ update public.appointments set reason = 'Control y análisis'
                       where id = 'a1000000-0000-4000-8000-000000000001' $$),
  1, 'patient: changes their own appointment'
);
select throws_ok(
  $$ update public.appointments set status = 'COMPLETED' where id = 'a1000000-0000-4000-8000-000000000001' $$,
  'P0001', 'AUTH_002', 'patient: cannot complete their own appointment'
);
select throws_ok(
  $$ update public.appointments set patient_id = 'ee000000-0000-4000-8000-000000000002'
      where id = 'a1000000-0000-4000-8000-000000000001' $$,
  'P0001', 'VAL_001', 'patient: cannot hand their appointment to another patient (refused by the trigger)'
);
select is(
  tests.affected($$ update public.appointments set status = 'CANCELLED'
                       where id = 'a1000000-0000-4000-8000-000000000002' $$),
  0, 'patient: cannot cancel another patient''s appointment'
);
select is(
  tests.affected($$ update public.appointments set status = 'CANCELLED'
                       where id = 'a1000000-0000-4000-8000-000000000001' $$),
  1, 'patient: cancels their own upcoming appointment'
);

-- -----------------------------------------------------------------------------
-- patient 2, another patient
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000002');

select is(
  (select count(*)::int from public.appointments where patient_id = 'ee000000-0000-4000-8000-000000000001'),
  0, 'other patient: sees none of patient 1''s appointments'
);
select is(
  tests.affected($$ update public.appointments set reason = 'Hijacked'
                       where patient_id = 'ee000000-0000-4000-8000-000000000001' $$),
  0, 'other patient: cannot change patient 1''s appointments'
);
select is(
  (select count(*)::int from public.appointments where patient_id = 'ee000000-0000-4000-8000-000000000002'),
  2, 'other patient: reads their own appointments'
);

-- -----------------------------------------------------------------------------
-- owner: the rightful writes are stored, the attacks left nothing
-- -----------------------------------------------------------------------------
select tests.clear_authentication();

select results_eq(
  $$ select status::text, reason from public.appointments where id = 'a1000000-0000-4000-8000-000000000001' $$,
  $$ values ('CANCELLED', 'Control y análisis') $$,
  'owner: patient 1''s appointment holds the patient''s change and cancellation'
);
select results_eq(
  $$ select status::text, reason from public.appointments where id = 'a1000000-0000-4000-8000-000000000002' $$,
  $$ values ('PENDING', 'Control anual') $$,
  'owner: patient 2''s appointment holds only the admin''s change'
);
select is(
  (select count(*)::int from public.appointments where doctor_id = 'dd000000-0000-4000-8000-000000000001'),
  4, 'owner: doctor 1''s schedule holds only the rightful bookings'
);

select * from finish();
rollback;
