-- =============================================================================
-- RLS matrix: public.clinic_histories and its parts (diagnostics, physical
-- exams, vital signs, prescriptions, prescription medications). Clinical
-- content: its patient and their doctors only, never admins.
--
-- Runs with `supabase test db` (pg_prove) and in `deno task test` on the
-- PostgreSQL leg (tests/pgtap.test.ts). One transaction, rolled back: the
-- fixtures never outlive the file.
--
-- Actors (fixed ids; the same in every file of this folder):
--   admin    aa000000-0000-4000-8000-000000000001
--   doctor 1 dd000000-0000-4000-8000-000000000001  wrote clinic history 1 (patient 1, appointment 3);
--                                                  appointment 5 with patient 1 has no history yet
--   doctor 2 dd000000-0000-4000-8000-000000000002  wrote clinic history 2 (patient 2, appointment 4)
--   patient 1 ee000000-0000-4000-8000-000000000001
--   patient 2 ee000000-0000-4000-8000-000000000002
-- =============================================================================
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
set local client_min_messages = warning;

select plan(58);

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


-- Completed appointments in the past: booked in the future (the trigger
-- refuses a start in the past), then moved back with the trigger off.
insert into public.appointments (id, patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, created_by)
values
  ('a1000000-0000-4000-8000-000000000003', 'ee000000-0000-4000-8000-000000000001',
   'dd000000-0000-4000-8000-000000000001', '5e000000-0000-4000-8000-000000000001', 'First visit',
   date_trunc('hour', now()) + interval '3 days', date_trunc('hour', now()) + interval '3 days 30 minutes',
   'aa000000-0000-4000-8000-000000000001'),
  ('a1000000-0000-4000-8000-000000000004', 'ee000000-0000-4000-8000-000000000002',
   'dd000000-0000-4000-8000-000000000002', '5e000000-0000-4000-8000-000000000001', 'First visit',
   date_trunc('hour', now()) + interval '3 days', date_trunc('hour', now()) + interval '3 days 30 minutes',
   'aa000000-0000-4000-8000-000000000001'),
  ('a1000000-0000-4000-8000-000000000005', 'ee000000-0000-4000-8000-000000000001',
   'dd000000-0000-4000-8000-000000000001', '5e000000-0000-4000-8000-000000000001', 'Second visit',
   date_trunc('hour', now()) + interval '4 days', date_trunc('hour', now()) + interval '4 days 30 minutes',
   'aa000000-0000-4000-8000-000000000001');
alter table public.appointments disable trigger appointments_check;
update public.appointments
   set starts_at = starts_at - interval '10 days', ends_at = ends_at - interval '10 days', status = 'COMPLETED'
 where id in ('a1000000-0000-4000-8000-000000000003', 'a1000000-0000-4000-8000-000000000004',
              'a1000000-0000-4000-8000-000000000005');
alter table public.appointments enable trigger appointments_check;

insert into public.clinic_histories (id, appointment_id, patient_id, doctor_id, specialty_id, consultation_reason,
                                     symptoms, treatment)
values
  ('c1000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000003',
   'ee000000-0000-4000-8000-000000000001', 'dd000000-0000-4000-8000-000000000001',
   '5e000000-0000-4000-8000-000000000001', 'Dolor de cabeza persistente', '{cefalea}', 'Reposo e hidratación'),
  ('c1000000-0000-4000-8000-000000000002', 'a1000000-0000-4000-8000-000000000004',
   'ee000000-0000-4000-8000-000000000002', 'dd000000-0000-4000-8000-000000000002',
   '5e000000-0000-4000-8000-000000000001', 'Dolor de garganta y fiebre', '{fiebre}', 'Antibiótico por 7 días');

insert into public.clinic_history_diagnostics (id, clinic_history_id, position, name, description) values
  ('c2000000-0000-4000-8000-000000000001', 'c1000000-0000-4000-8000-000000000001', 1, 'Migraña', 'Sin aura'),
  ('c2000000-0000-4000-8000-000000000002', 'c1000000-0000-4000-8000-000000000002', 1, 'Faringitis', 'Bacteriana');
insert into public.clinic_history_physical_exams (id, clinic_history_id, position, name, description) values
  ('c5000000-0000-4000-8000-000000000001', 'c1000000-0000-4000-8000-000000000001', 1, 'Neurológico', 'Normal'),
  ('c5000000-0000-4000-8000-000000000002', 'c1000000-0000-4000-8000-000000000002', 1, 'Orofaringe', 'Eritema');
insert into public.clinic_history_vital_signs (id, clinic_history_id, position, name, value, unit, measurement)
values
  ('c6000000-0000-4000-8000-000000000001', 'c1000000-0000-4000-8000-000000000001', 1, 'Presión', '120/80', 'mmHg',
   'Sentado'),
  ('c6000000-0000-4000-8000-000000000002', 'c1000000-0000-4000-8000-000000000002', 1, 'Temperatura', '38.5', '°C',
   'Axilar');
insert into public.prescriptions (id, clinic_history_id, name, description) values
  ('c3000000-0000-4000-8000-000000000001', 'c1000000-0000-4000-8000-000000000001', 'Receta', 'Analgésicos'),
  ('c3000000-0000-4000-8000-000000000002', 'c1000000-0000-4000-8000-000000000002', 'Receta', 'Antibióticos');
insert into public.prescription_medications (id, prescription_id, position, name, quantity, unit, frequency,
                                             duration, indications, administration_route)
values
  ('c4000000-0000-4000-8000-000000000001', 'c3000000-0000-4000-8000-000000000001', 1, 'Paracetamol', 1, 'comprimido',
   'cada 8 horas', '3 días', 'Con comida', 'oral'),
  ('c4000000-0000-4000-8000-000000000002', 'c3000000-0000-4000-8000-000000000002', 1, 'Amoxicilina', 1, 'cápsula',
   'cada 8 horas', '7 días', 'Con agua', 'oral');

-- -----------------------------------------------------------------------------
-- anon: refused everywhere
-- -----------------------------------------------------------------------------
select tests.authenticate_as_anon();

select throws_ok($$ select * from public.clinic_histories $$, '42501', null,
  'anon: reading clinic histories is refused');
select throws_ok($$ select * from public.clinic_history_diagnostics $$, '42501', null,
  'anon: reading diagnostics is refused');
select throws_ok($$ select * from public.clinic_history_physical_exams $$, '42501', null,
  'anon: reading physical exams is refused');
select throws_ok($$ select * from public.clinic_history_vital_signs $$, '42501', null,
  'anon: reading vital signs is refused');
select throws_ok($$ select * from public.prescriptions $$, '42501', null,
  'anon: reading prescriptions is refused');
select throws_ok($$ select * from public.prescription_medications $$, '42501', null,
  'anon: reading prescription medications is refused');
select throws_ok(
  $$ select app.create_clinic_history('{"appointmentId": "a1000000-0000-4000-8000-000000000005"}') $$,
  '42501', null, 'anon: writing a clinic history is refused'
);

-- -----------------------------------------------------------------------------
-- admin: never clinical content
-- -----------------------------------------------------------------------------
select tests.authenticate_as('aa000000-0000-4000-8000-000000000001');

select is((select count(*)::int from public.clinic_histories), 0,
  'admin: reads no clinic history');
select is((select count(*)::int from public.clinic_history_diagnostics), 0,
  'admin: reads no diagnostic');
select is((select count(*)::int from public.clinic_history_physical_exams), 0,
  'admin: reads no physical exam');
select is((select count(*)::int from public.clinic_history_vital_signs), 0,
  'admin: reads no vital sign');
select is((select count(*)::int from public.prescriptions), 0,
  'admin: reads no prescription');
select is((select count(*)::int from public.prescription_medications), 0,
  'admin: reads no prescription medication');
select is(
  (select count(*)::int from public.appointments where id = 'a1000000-0000-4000-8000-000000000003'),
  1, 'admin: (still) reads the appointment the clinic history belongs to'
);
select throws_ok(
  $$ insert into public.clinic_histories (appointment_id, patient_id, doctor_id, specialty_id,
                                          consultation_reason, symptoms, treatment)
     values ('a1000000-0000-4000-8000-000000000005', 'ee000000-0000-4000-8000-000000000001',
             'dd000000-0000-4000-8000-000000000001', '5e000000-0000-4000-8000-000000000001',
             'Written by an admin', '{none}', 'Nothing at all') $$,
  '42501', null, 'admin: writing a clinic history is refused'
);
select throws_ok(
  $$ select app.create_clinic_history('{"appointmentId": "a1000000-0000-4000-8000-000000000005",
       "consultationReason": "Written by an admin", "symptoms": ["none"], "treatment": "Nothing at all"}') $$,
  'P0001', 'AUTH_002', 'admin: app.create_clinic_history refuses an admin'
);
select is(
  tests.affected($$ update public.clinic_histories set treatment = 'Changed by an admin' $$),
  0, 'admin: changes no clinic history'
);

-- -----------------------------------------------------------------------------
-- doctor 1, with a relationship to patient 1
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000001');

select set_eq($$ select id from public.clinic_histories $$,
  $$ values ('c1000000-0000-4000-8000-000000000001'::uuid) $$,
  'doctor with relationship: reads their patient''s clinic history, no other');
select set_eq($$ select id from public.clinic_history_diagnostics $$,
  $$ values ('c2000000-0000-4000-8000-000000000001'::uuid) $$,
  'doctor with relationship: reads its diagnostics, no other');
select set_eq($$ select id from public.clinic_history_physical_exams $$,
  $$ values ('c5000000-0000-4000-8000-000000000001'::uuid) $$,
  'doctor with relationship: reads its physical exams, no other');
select set_eq($$ select id from public.clinic_history_vital_signs $$,
  $$ values ('c6000000-0000-4000-8000-000000000001'::uuid) $$,
  'doctor with relationship: reads its vital signs, no other');
select set_eq($$ select id from public.prescriptions $$,
  $$ values ('c3000000-0000-4000-8000-000000000001'::uuid) $$,
  'doctor with relationship: reads its prescription, no other');
select set_eq($$ select id from public.prescription_medications $$,
  $$ values ('c4000000-0000-4000-8000-000000000001'::uuid) $$,
  'doctor with relationship: reads its prescription''s medications, no other');
select lives_ok(
  $$ select app.create_clinic_history('{"appointmentId": "a1000000-0000-4000-8000-000000000005",
       "consultationReason": "Control de migraña", "symptoms": ["cefalea"], "treatment": "Continuar tratamiento",
       "diagnostics": [{"name": "Migraña", "description": "Mejorando"}],
       "prescription": {"name": "Receta", "description": "Analgésicos",
         "medications": [{"name": "Ibuprofeno", "quantity": 1, "unit": "comprimido", "frequency": "cada 8 horas",
                          "duration": "5 días", "indications": "Con comida", "administrationRoute": "oral"}]}}') $$,
  'doctor with relationship: writes the clinic history of their appointment'
);
select lives_ok(
  $$ insert into public.clinic_history_diagnostics (clinic_history_id, position, name, description)
     values ('c1000000-0000-4000-8000-000000000001', 2, 'Insomnio', 'Secundario') $$,
  'doctor with relationship: adds a diagnostic to the clinic history they wrote'
);
select throws_ok(
  $$ insert into public.clinic_history_diagnostics (clinic_history_id, position, name, description)
     values ('c1000000-0000-4000-8000-000000000002', 2, 'Forged', 'Added by another doctor') $$,
  '42501', null, 'doctor: cannot add a diagnostic to another doctor''s clinic history'
);
select throws_ok(
  $$ insert into public.prescription_medications (prescription_id, position, name, quantity, unit, frequency,
                                                  duration, indications, administration_route)
     values ('c3000000-0000-4000-8000-000000000002', 2, 'Forged', 1, 'u', 'f', 'd', 'i', 'oral') $$,
  '42501', null, 'doctor: cannot add a medication to another doctor''s prescription'
);
select throws_ok(
  $$ insert into public.clinic_histories (appointment_id, patient_id, doctor_id, specialty_id,
                                          consultation_reason, symptoms, treatment)
     values ('a1000000-0000-4000-8000-000000000004', 'ee000000-0000-4000-8000-000000000002',
             'dd000000-0000-4000-8000-000000000001', '5e000000-0000-4000-8000-000000000001',
             'Not my appointment', '{none}', 'Nothing at all') $$,
  '42501', null, 'doctor: cannot write the clinic history of another doctor''s appointment'
);
select is(
  tests.affected($$ update public.clinic_histories set treatment = 'Rewritten afterwards' $$),
  0, 'doctor: cannot rewrite a clinic history, not even their own'
);
select throws_ok(
  $$ delete from public.clinic_histories where id = 'c1000000-0000-4000-8000-000000000001' $$,
  '42501', null, 'doctor: deleting a clinic history is refused'
);
select throws_ok(
  $$ delete from public.clinic_history_diagnostics $$,
  '42501', null, 'doctor: deleting diagnostics is refused'
);

-- -----------------------------------------------------------------------------
-- doctor 2, without a relationship to patient 1
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000002');

select is((select count(*)::int from public.clinic_histories where patient_id = 'ee000000-0000-4000-8000-000000000001'),
  0, 'doctor without relationship: reads none of patient 1''s clinic histories');
select is((select count(*)::int from public.clinic_history_diagnostics
            where clinic_history_id = 'c1000000-0000-4000-8000-000000000001'),
  0, 'doctor without relationship: reads none of their diagnostics');
select is((select count(*)::int from public.clinic_history_physical_exams
            where clinic_history_id = 'c1000000-0000-4000-8000-000000000001'),
  0, 'doctor without relationship: reads none of their physical exams');
select is((select count(*)::int from public.clinic_history_vital_signs
            where clinic_history_id = 'c1000000-0000-4000-8000-000000000001'),
  0, 'doctor without relationship: reads none of their vital signs');
select is((select count(*)::int from public.prescriptions
            where clinic_history_id = 'c1000000-0000-4000-8000-000000000001'),
  0, 'doctor without relationship: reads none of their prescriptions');
select is((select count(*)::int from public.prescription_medications
            where prescription_id = 'c3000000-0000-4000-8000-000000000001'),
  0, 'doctor without relationship: reads none of their medications');
select is((select count(*)::int from public.patients where id = 'ee000000-0000-4000-8000-000000000001'),
  0, 'doctor without relationship: does not read patient 1 either');
select throws_ok(
  $$ select app.create_clinic_history('{"appointmentId": "a1000000-0000-4000-8000-000000000005",
       "consultationReason": "Not my appointment", "symptoms": ["none"], "treatment": "Nothing at all"}') $$,
  'P0001', 'RES_001', 'doctor without relationship: does not even find patient 1''s appointment'
);
select throws_ok(
  $$ insert into public.clinic_histories (appointment_id, patient_id, doctor_id, specialty_id,
                                          consultation_reason, symptoms, treatment)
     values ('a1000000-0000-4000-8000-000000000005', 'ee000000-0000-4000-8000-000000000001',
             'dd000000-0000-4000-8000-000000000002', '5e000000-0000-4000-8000-000000000001',
             'Not my appointment', '{none}', 'Nothing at all') $$,
  '42501', null, 'doctor without relationship: cannot write a clinic history for patient 1'
);
select set_eq($$ select id from public.clinic_histories $$,
  $$ values ('c1000000-0000-4000-8000-000000000002'::uuid) $$,
  'doctor without relationship: reads their own patient''s clinic history');

-- -----------------------------------------------------------------------------
-- patient 1, themselves
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000001');

select is((select count(*)::int from public.clinic_histories), 2,
  'patient: reads their own clinic histories (both), nobody else''s');
select is((select count(*)::int from public.clinic_history_diagnostics), 3,
  'patient: reads their own diagnostics, nobody else''s');
select is((select count(*)::int from public.clinic_history_physical_exams), 1,
  'patient: reads their own physical exams, nobody else''s');
select is((select count(*)::int from public.clinic_history_vital_signs), 1,
  'patient: reads their own vital signs, nobody else''s');
select is((select count(*)::int from public.prescriptions), 2,
  'patient: reads their own prescriptions, nobody else''s');
select is((select count(*)::int from public.prescription_medications), 2,
  'patient: reads their own medications, nobody else''s');
select throws_ok(
  $$ insert into public.clinic_histories (appointment_id, patient_id, doctor_id, specialty_id,
                                          consultation_reason, symptoms, treatment)
     values ('a1000000-0000-4000-8000-000000000001', 'ee000000-0000-4000-8000-000000000001',
             'dd000000-0000-4000-8000-000000000001', '5e000000-0000-4000-8000-000000000001',
             'Written by the patient', '{none}', 'Nothing at all') $$,
  '42501', null, 'patient: cannot write a clinic history'
);
select throws_ok(
  $$ insert into public.clinic_history_diagnostics (clinic_history_id, position, name, description)
     values ('c1000000-0000-4000-8000-000000000001', 9, 'Self-diagnosis', 'Added by the patient') $$,
  '42501', null, 'patient: cannot add a diagnostic to their clinic history'
);
select is(
  tests.affected($$ update public.clinic_histories set treatment = 'Changed by the patient' $$),
  0, 'patient: cannot change their clinic histories'
);

-- -----------------------------------------------------------------------------
-- patient 2, another patient
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000002');

select is((select count(*)::int from public.clinic_histories where patient_id = 'ee000000-0000-4000-8000-000000000001'),
  0, 'other patient: reads none of patient 1''s clinic histories');
select is((select count(*)::int from public.clinic_history_diagnostics
            where clinic_history_id = 'c1000000-0000-4000-8000-000000000001'),
  0, 'other patient: reads none of patient 1''s diagnostics');
select is((select count(*)::int from public.prescriptions
            where clinic_history_id = 'c1000000-0000-4000-8000-000000000001'),
  0, 'other patient: reads none of patient 1''s prescriptions');
select is((select count(*)::int from public.prescription_medications
            where prescription_id = 'c3000000-0000-4000-8000-000000000001'),
  0, 'other patient: reads none of patient 1''s medications');
select set_eq($$ select id from public.clinic_histories $$,
  $$ values ('c1000000-0000-4000-8000-000000000002'::uuid) $$,
  'other patient: reads their own clinic history');

-- -----------------------------------------------------------------------------
-- owner: the rightful writes are stored, the attacks left nothing
-- -----------------------------------------------------------------------------
select tests.clear_authentication();

select is(
  (select count(*)::int from public.clinic_histories where id::text like 'c1000000-%' or appointment_id::text
     like 'a1000000-%'),
  3, 'owner: exactly the three rightful clinic histories exist'
);
select is(
  (select treatment from public.clinic_histories where id = 'c1000000-0000-4000-8000-000000000001'),
  'Reposo e hidratación', 'owner: clinic history 1 is unchanged'
);
select is(
  (select count(*)::int from public.clinic_history_diagnostics
    where clinic_history_id = 'c1000000-0000-4000-8000-000000000002'),
  1, 'owner: clinic history 2 has only its own diagnostic'
);

select * from finish();
rollback;
