-- =============================================================================
-- RLS matrix: public.patients and public.patient_antecedents (clinical
-- content: never for admins).
--
-- Runs with `supabase test db` (pg_prove) and in `deno task test` on the
-- PostgreSQL leg (tests/pgtap.test.ts). One transaction, rolled back: the
-- fixtures never outlive the file.
--
-- Actors (fixed ids; the same in every file of this folder):
--   admin    aa000000-0000-4000-8000-000000000001
--   doctor 1 dd000000-0000-4000-8000-000000000001  has an appointment with patient 1,
--                                                  registered patient 3
--   doctor 2 dd000000-0000-4000-8000-000000000002  has an appointment with patient 2 only
--   patient 1 ee000000-0000-4000-8000-000000000001
--   patient 2 ee000000-0000-4000-8000-000000000002
--   patient 3 ee000000-0000-4000-8000-000000000003  registered by doctor 1, no appointment
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


insert into public.users (id, role, name, last_name, phone, email) values
  ('ee000000-0000-4000-8000-000000000003', 'patient', 'Paz', 'Three', '+5490000000006', 'patient3@pgtap.test');
insert into public.patients (id, address, created_by) values
  ('ee000000-0000-4000-8000-000000000003', 'Calle Tres 333', 'dd000000-0000-4000-8000-000000000001');

insert into public.patient_antecedents (patient_id, allergies, updated_by) values
  ('ee000000-0000-4000-8000-000000000001', '{penicillin}', 'dd000000-0000-4000-8000-000000000001'),
  ('ee000000-0000-4000-8000-000000000002', '{latex}', 'dd000000-0000-4000-8000-000000000002');

-- -----------------------------------------------------------------------------
-- anon: refused everywhere
-- -----------------------------------------------------------------------------
select tests.authenticate_as_anon();

select throws_ok(
  $$ select * from public.patients $$,
  '42501', null, 'anon: reading patients is refused'
);
select throws_ok(
  $$ update public.patients set address = 'Calle Anon 000' $$,
  '42501', null, 'anon: updating patients is refused'
);
select throws_ok(
  $$ select * from public.patient_antecedents $$,
  '42501', null, 'anon: reading antecedents is refused'
);
select throws_ok(
  $$ insert into public.patient_antecedents (patient_id) values ('ee000000-0000-4000-8000-000000000003') $$,
  '42501', null, 'anon: writing antecedents is refused'
);

-- -----------------------------------------------------------------------------
-- admin: every patient, never their antecedents
-- -----------------------------------------------------------------------------
select tests.authenticate_as('aa000000-0000-4000-8000-000000000001');

select is(
  (select count(*)::int from public.patients where id::text like 'ee000000-%'),
  3, 'admin: reads every patient'
);
select is(
  tests.affected($$ update public.patients set address = 'Calle Admin 123'
                       where id = 'ee000000-0000-4000-8000-000000000001' $$),
  1, 'admin: updates a patient'
);
select is(
  (select count(*)::int from public.patient_antecedents),
  0, 'admin: reads no antecedents (clinical content)'
);
select is(
  tests.affected($$ update public.patient_antecedents set allergies = '{}' $$),
  0, 'admin: updates no antecedents'
);
select throws_ok(
  $$ insert into public.patient_antecedents (patient_id, updated_by)
     values ('ee000000-0000-4000-8000-000000000003', 'aa000000-0000-4000-8000-000000000001') $$,
  '42501', null, 'admin: writing antecedents is refused'
);
select throws_ok(
  $$ delete from public.patients where id = 'ee000000-0000-4000-8000-000000000003' $$,
  '42501', null, 'admin: deleting a patient row is refused (deletion is soft)'
);

-- -----------------------------------------------------------------------------
-- doctor 1, with a relationship to patient 1 (appointment) and 3 (registered)
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000001');

select is(
  (select count(*)::int from public.patients where id = 'ee000000-0000-4000-8000-000000000001'),
  1, 'doctor with relationship: reads the patient they have an appointment with'
);
select is(
  (select count(*)::int from public.patients where id = 'ee000000-0000-4000-8000-000000000003'),
  1, 'doctor with relationship: reads the patient they registered'
);
select is(
  (select count(*)::int from public.patients where id = 'ee000000-0000-4000-8000-000000000002'),
  0, 'doctor with relationship: does not read another doctor''s patient'
);
select is(
  (select allergies from public.patient_antecedents where patient_id = 'ee000000-0000-4000-8000-000000000001'),
  '{penicillin}'::text[], 'doctor with relationship: reads their patient''s antecedents'
);
select is(
  (select count(*)::int from public.patient_antecedents
    where patient_id = 'ee000000-0000-4000-8000-000000000002'),
  0, 'doctor with relationship: does not read another doctor''s patient''s antecedents'
);
select is(
  tests.affected($$ update public.patients set address = 'Calle Doctor 456'
                       where id = 'ee000000-0000-4000-8000-000000000001' $$),
  1, 'doctor with relationship: updates their patient'
);
select is(
  tests.affected($$ update public.patients set address = 'Calle Doctor 456'
                       where id = 'ee000000-0000-4000-8000-000000000002' $$),
  0, 'doctor with relationship: cannot update another doctor''s patient'
);
select is(
  tests.affected($$ update public.patient_antecedents
                         set medications = '{ibuprofen}', updated_by = 'dd000000-0000-4000-8000-000000000001'
                       where patient_id = 'ee000000-0000-4000-8000-000000000001' $$),
  1, 'doctor with relationship: updates their patient''s antecedents'
);
select throws_ok(
  $$ update public.patient_antecedents set medications = '{}', updated_by = 'dd000000-0000-4000-8000-000000000002'
      where patient_id = 'ee000000-0000-4000-8000-000000000001' $$,
  '42501', null, 'doctor with relationship: cannot sign an update as another doctor'
);
select is(
  tests.affected($$ update public.patient_antecedents set allergies = '{}'
                       where patient_id = 'ee000000-0000-4000-8000-000000000002' $$),
  0, 'doctor with relationship: cannot update another doctor''s patient''s antecedents'
);
select throws_ok(
  $$ insert into public.patient_antecedents (patient_id, updated_by)
     values ('ee000000-0000-4000-8000-000000000003', 'dd000000-0000-4000-8000-000000000002') $$,
  '42501', null, 'doctor with relationship: cannot record antecedents signed by another doctor'
);
select lives_ok(
  $$ insert into public.patient_antecedents (patient_id, family_history, updated_by)
     values ('ee000000-0000-4000-8000-000000000003', '{diabetes}', 'dd000000-0000-4000-8000-000000000001') $$,
  'doctor with relationship: records antecedents of the patient they registered'
);
select throws_ok(
  $$ insert into public.patient_antecedents (patient_id, updated_by)
     values ('ee000000-0000-4000-8000-000000000009', 'dd000000-0000-4000-8000-000000000001') $$,
  '42501', null, 'doctor: cannot record antecedents of someone who is not their patient'
);
-- patients.created_by makes a patient that doctor's patient: no caller may
-- change it (only address, gender and birth_date are updatable columns).
select throws_ok(
  $$ update public.patients set created_by = 'dd000000-0000-4000-8000-000000000002'
      where id = 'ee000000-0000-4000-8000-000000000001' $$,
  '42501', null, 'doctor: cannot hand their patient to another doctor (patients.created_by)'
);
select throws_ok(
  $$ update public.patients set created_by = null
      where id = 'ee000000-0000-4000-8000-000000000003' $$,
  '42501', null, 'doctor: cannot rewrite who registered their patient (patients.created_by)'
);

-- -----------------------------------------------------------------------------
-- doctor 2, without a relationship to patient 1 (nor 3)
-- -----------------------------------------------------------------------------
-- (undo whatever the known hole above let through, so the matrix below holds)
select tests.clear_authentication();
update public.patients set created_by = 'aa000000-0000-4000-8000-000000000001'
 where id = 'ee000000-0000-4000-8000-000000000001';
update public.patients set created_by = 'dd000000-0000-4000-8000-000000000001'
 where id = 'ee000000-0000-4000-8000-000000000003';
select tests.authenticate_as('dd000000-0000-4000-8000-000000000002');

select is(
  (select count(*)::int from public.patients
    where id in ('ee000000-0000-4000-8000-000000000001', 'ee000000-0000-4000-8000-000000000003')),
  0, 'doctor without relationship: does not read patient 1 nor 3'
);
select is(
  (select count(*)::int from public.patient_antecedents
    where patient_id in ('ee000000-0000-4000-8000-000000000001', 'ee000000-0000-4000-8000-000000000003')),
  0, 'doctor without relationship: does not read their antecedents'
);
select is(
  tests.affected($$ update public.patients set address = 'Calle Intruso 999'
                       where id = 'ee000000-0000-4000-8000-000000000001' $$),
  0, 'doctor without relationship: cannot update patient 1'
);
select is(
  tests.affected($$ update public.patient_antecedents
                         set allergies = '{}', updated_by = 'dd000000-0000-4000-8000-000000000002'
                       where patient_id = 'ee000000-0000-4000-8000-000000000001' $$),
  0, 'doctor without relationship: cannot update patient 1''s antecedents'
);
select throws_ok(
  $$ insert into public.patient_antecedents (patient_id, updated_by)
     values ('ee000000-0000-4000-8000-000000000001', 'dd000000-0000-4000-8000-000000000002')
     on conflict (patient_id) do update set allergies = '{}' $$,
  '42501', null, 'doctor without relationship: cannot upsert patient 1''s antecedents'
);
select throws_ok(
  $$ select app.set_patient_password('ee000000-0000-4000-8000-000000000001', '$argon2id$v=19$x') $$,
  'P0001', 'RES_001', 'doctor without relationship: cannot set patient 1''s password'
);
select is(
  (select count(*)::int from public.patients where id = 'ee000000-0000-4000-8000-000000000002'),
  1, 'doctor without relationship: reads their own patient 2'
);

-- -----------------------------------------------------------------------------
-- patient 1, themselves
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000001');

select is(
  (select count(*)::int from public.patients where id::text like 'ee000000-%'),
  1, 'patient: reads only their own patient record'
);
select is(
  (select count(*)::int from public.patient_antecedents),
  1, 'patient: reads only their own antecedents'
);
select is(
  tests.affected($$ update public.patients set address = 'Otra calle 123' $$),
  0, 'patient: updates no patient record (not even their own)'
);
select is(
  tests.affected($$ update public.patient_antecedents set allergies = '{}' $$),
  0, 'patient: cannot edit their antecedents (doctors record them)'
);
select throws_ok(
  $$ insert into public.patient_antecedents (patient_id, updated_by)
     values ('ee000000-0000-4000-8000-000000000003', 'ee000000-0000-4000-8000-000000000001') $$,
  '42501', null, 'patient: cannot write anyone''s antecedents'
);

-- -----------------------------------------------------------------------------
-- patient 2, another patient
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000002');

select is(
  (select count(*)::int from public.patients where id = 'ee000000-0000-4000-8000-000000000001'),
  0, 'other patient: does not read patient 1'
);
select is(
  (select count(*)::int from public.patient_antecedents
    where patient_id = 'ee000000-0000-4000-8000-000000000001'),
  0, 'other patient: does not read patient 1''s antecedents'
);
select is(
  tests.affected($$ update public.patients set address = 'Calle Ajena 777'
                       where id = 'ee000000-0000-4000-8000-000000000001' $$),
  0, 'other patient: cannot update patient 1'
);

-- -----------------------------------------------------------------------------
-- owner: the rightful writes are stored, the attacks left nothing
-- -----------------------------------------------------------------------------
select tests.clear_authentication();

select is(
  (select medications from public.patient_antecedents where patient_id = 'ee000000-0000-4000-8000-000000000001'),
  '{ibuprofen}'::text[], 'owner: the doctor''s antecedents update is stored'
);
select is(
  (select allergies from public.patient_antecedents where patient_id = 'ee000000-0000-4000-8000-000000000002'),
  '{latex}'::text[], 'owner: patient 2''s antecedents are untouched'
);
select is(
  (select address from public.patients where id = 'ee000000-0000-4000-8000-000000000001'),
  'Calle Doctor 456', 'owner: patient 1''s address is the doctor''s edit'
);

select * from finish();
rollback;
