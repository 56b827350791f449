-- =============================================================================
-- Clinical text and private notes, column by column: an appointment's reason
-- is for its patient and doctor (never an admin: decision 5); a doctor's
-- availability exception is busy time for everyone, its note for the doctor
-- and admins. Row-level security picks the rows; column privileges refuse
-- the text itself, and app.appointment_reason / app.availability_exception_note
-- answer it to those who may read it (null to anyone else).
--
-- Actors (fixed ids; the same in every file of this folder):
--   admin     aa000000-0000-4000-8000-000000000001
--   doctor 1  dd000000-0000-4000-8000-000000000001  appointment 1 with patient 1, a day off
--   doctor 2  dd000000-0000-4000-8000-000000000002
--   patient 1 ee000000-0000-4000-8000-000000000001
--   patient 2 ee000000-0000-4000-8000-000000000002
-- =============================================================================
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
set local client_min_messages = warning;

select plan(24);

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
   'dd000000-0000-4000-8000-000000000001', '5e000000-0000-4000-8000-000000000001',
   'dolor de cabeza persistente',
   date_trunc('hour', now()) + interval '2 days', date_trunc('hour', now()) + interval '2 days 30 minutes',
   'aa000000-0000-4000-8000-000000000001');

insert into public.doctor_availability_exceptions (id, doctor_id, kind, starts_at, ends_at, note) values
  ('e1000000-0000-4000-8000-000000000001', 'dd000000-0000-4000-8000-000000000001', 'unavailable',
   date_trunc('day', now()) + interval '5 days', date_trunc('day', now()) + interval '6 days',
   'operación de rodilla');

-- -----------------------------------------------------------------------------
-- The appointment's reason
-- -----------------------------------------------------------------------------
select tests.authenticate_as('aa000000-0000-4000-8000-000000000001');
select is((select count(*)::int from public.appointments where id = 'a1000000-0000-4000-8000-000000000001'), 1,
  'admin: sees the appointment (its schedule)');
select throws_ok($$ select reason from public.appointments $$, '42501', null,
  'admin: reading the reason column is refused');
select throws_ok($$ select * from public.appointments $$, '42501', null,
  'admin: select * (which includes the reason) is refused');
select is(app.appointment_reason('a1000000-0000-4000-8000-000000000001'), null,
  'admin: the reason function answers null');
select is(tests.affected($$ update public.appointments set reason = 'Control anual'
   where id = 'a1000000-0000-4000-8000-000000000001' $$), 1,
  'admin: may still set the reason (writing, not reading)');

select is((select count(*)::int from app.appointment_reasons(array['a1000000-0000-4000-8000-000000000001'::uuid])),
  0, 'admin: a page''s reasons (one call) answer no row');

select tests.authenticate_as('dd000000-0000-4000-8000-000000000001');
select throws_ok($$ select reason from public.appointments $$, '42501', null,
  'doctor: the column itself is refused to everyone');
select is((select reason from app.appointment_reasons(array['a1000000-0000-4000-8000-000000000001'::uuid])),
  'Control anual', 'doctor of the appointment: a page''s reasons include it');
select is(app.appointment_reason('a1000000-0000-4000-8000-000000000001'), 'Control anual',
  'doctor of the appointment: reads the reason');

select tests.authenticate_as('ee000000-0000-4000-8000-000000000001');
select is(app.appointment_reason('a1000000-0000-4000-8000-000000000001'), 'Control anual',
  'patient of the appointment: reads the reason');

select tests.authenticate_as('dd000000-0000-4000-8000-000000000002');
select is(app.appointment_reason('a1000000-0000-4000-8000-000000000001'), null,
  'another doctor: null');

select tests.authenticate_as('ee000000-0000-4000-8000-000000000002');
select is(app.appointment_reason('a1000000-0000-4000-8000-000000000001'), null,
  'another patient: null');

select tests.authenticate_as_anon();
select throws_ok($$ select app.appointment_reason('a1000000-0000-4000-8000-000000000001') $$, '42501', null,
  'anon: the function is refused');

-- -----------------------------------------------------------------------------
-- The note of a doctor's day off
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000002');
select is((select count(*)::int from public.doctor_availability_exceptions
   where id = 'e1000000-0000-4000-8000-000000000001' and kind = 'unavailable'), 1,
  'patient: sees the day off as busy time');
select throws_ok($$ select note from public.doctor_availability_exceptions $$, '42501', null,
  'patient: reading the note column is refused');
select throws_ok($$ select * from public.doctor_availability_exceptions $$, '42501', null,
  'patient: select * (which includes the note) is refused');
select is(app.availability_exception_note('e1000000-0000-4000-8000-000000000001'), null,
  'patient: the note function answers null');

select tests.authenticate_as('dd000000-0000-4000-8000-000000000002');
select is(app.availability_exception_note('e1000000-0000-4000-8000-000000000001'), null,
  'another doctor: null');

select tests.authenticate_as('dd000000-0000-4000-8000-000000000001');
select is(app.availability_exception_note('e1000000-0000-4000-8000-000000000001'), 'operación de rodilla',
  'the doctor: reads the note');
select throws_ok($$ select note from public.doctor_availability_exceptions $$, '42501', null,
  'the doctor: the column itself is refused to everyone, the function answers');
select is(tests.affected($$ update public.doctor_availability_exceptions set note = 'cirugía'
   where id = 'e1000000-0000-4000-8000-000000000001' $$), 1,
  'the doctor: may change the note');

select tests.authenticate_as('aa000000-0000-4000-8000-000000000001');
select is(app.availability_exception_note('e1000000-0000-4000-8000-000000000001'), 'cirugía',
  'admin: reads the note');

select tests.clear_authentication();
select is((select reason from public.appointments where id = 'a1000000-0000-4000-8000-000000000001'),
  'Control anual', 'the owner (migrations, service jobs) reads the column as stored');
select is((select note from public.doctor_availability_exceptions where id = 'e1000000-0000-4000-8000-000000000001'),
  'cirugía', 'the note as stored');

select * from finish();
rollback;
