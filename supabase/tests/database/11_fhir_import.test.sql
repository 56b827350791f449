-- =============================================================================
-- RLS matrix: what a FHIR import writes (20261201008000_fhir_import.sql).
--   public.fhir_source_identifiers  as visible as its patient; written by the
--                                   patient's doctors, by an admin for a Patient only
--   public.imported_vital_signs     clinical content: the patient and their
--                                   doctors read it, only those doctors write it
-- Nobody updates or deletes either.
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

select plan(22);

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

insert into public.fhir_source_identifiers (patient_id, resource_type, system, value, created_by) values
  ('ee000000-0000-4000-8000-000000000001', 'Patient', 'urn:oid:1.2.3', 'mrn-1',
   'aa000000-0000-4000-8000-000000000001'),
  ('ee000000-0000-4000-8000-000000000001', 'Observation', 'urn:oid:1.2.3', 'obs-1',
   'dd000000-0000-4000-8000-000000000001');

insert into public.imported_vital_signs (id, patient_id, name, loinc_code, value, unit, effective_at, recorded_by)
values ('f1000000-0000-4000-8000-000000000001', 'ee000000-0000-4000-8000-000000000001', 'Heart rate', '8867-4',
        '72', '/min', now() - interval '1 year', 'dd000000-0000-4000-8000-000000000001');

-- -----------------------------------------------------------------------------
-- anon
-- -----------------------------------------------------------------------------
select tests.authenticate_as_anon();
select throws_ok($$ select * from public.fhir_source_identifiers $$, '42501', null,
  'anon: reading source identifiers is refused');
select throws_ok($$ select * from public.imported_vital_signs $$, '42501', null,
  'anon: reading imported vital signs is refused');

-- -----------------------------------------------------------------------------
-- admin: identifiers yes, and a Patient's only; vital signs never
-- -----------------------------------------------------------------------------
select tests.authenticate_as('aa000000-0000-4000-8000-000000000001');
select is((select count(*)::int from public.fhir_source_identifiers), 2, 'admin: reads every source identifier');
select is((select count(*)::int from public.imported_vital_signs), 0, 'admin: reads no imported vital sign');
select lives_ok(
  $$ insert into public.fhir_source_identifiers (patient_id, resource_type, system, value, created_by)
     values ('ee000000-0000-4000-8000-000000000002', 'Patient', 'urn:oid:1.2.3', 'mrn-2',
             'aa000000-0000-4000-8000-000000000001') $$,
  'admin: records a Patient''s identifier');
select throws_ok(
  $$ insert into public.fhir_source_identifiers (patient_id, resource_type, system, value, created_by)
     values ('ee000000-0000-4000-8000-000000000002', 'Condition', 'urn:oid:1.2.3', 'c-2',
             'aa000000-0000-4000-8000-000000000001') $$,
  '42501', null, 'admin: may not record a Condition''s identifier');
select throws_ok(
  $$ insert into public.imported_vital_signs (patient_id, name, value, unit, effective_at, recorded_by)
     values ('ee000000-0000-4000-8000-000000000002', 'Peso', '70', 'kg', now(),
             'aa000000-0000-4000-8000-000000000001') $$,
  '42501', null, 'admin: may not import a vital sign');

-- -----------------------------------------------------------------------------
-- doctor 1: their patient's rows, and writes them as themself
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000001');
select is((select count(*)::int from public.fhir_source_identifiers), 2, 'doctor 1: reads patient 1''s identifiers');
select is((select count(*)::int from public.imported_vital_signs), 1, 'doctor 1: reads patient 1''s vital sign');
select lives_ok(
  $$ insert into public.imported_vital_signs (patient_id, name, value, unit, effective_at, recorded_by)
     values ('ee000000-0000-4000-8000-000000000001', 'Peso', '70', 'kg', now(),
             'dd000000-0000-4000-8000-000000000001') $$,
  'doctor 1: imports a vital sign of their patient');
select lives_ok(
  $$ insert into public.fhir_source_identifiers (patient_id, resource_type, system, value, created_by)
     values ('ee000000-0000-4000-8000-000000000001', 'Condition', 'urn:oid:1.2.3', 'c-1',
             'dd000000-0000-4000-8000-000000000001') $$,
  'doctor 1: records a Condition''s identifier for their patient');
select throws_ok(
  $$ insert into public.imported_vital_signs (patient_id, name, value, unit, effective_at, recorded_by)
     values ('ee000000-0000-4000-8000-000000000002', 'Peso', '70', 'kg', now(),
             'dd000000-0000-4000-8000-000000000001') $$,
  '42501', null, 'doctor 1: may not import a vital sign of someone else''s patient');
select throws_ok(
  $$ insert into public.imported_vital_signs (patient_id, name, value, unit, effective_at, recorded_by)
     values ('ee000000-0000-4000-8000-000000000001', 'Peso', '70', 'kg', now(),
             'dd000000-0000-4000-8000-000000000002') $$,
  '42501', null, 'doctor 1: may not import in another doctor''s name');
select throws_ok(
  $$ insert into public.fhir_source_identifiers (patient_id, resource_type, system, value, created_by)
     values ('ee000000-0000-4000-8000-000000000002', 'Observation', 'urn:oid:1.2.3', 'o-2',
             'dd000000-0000-4000-8000-000000000001') $$,
  '42501', null, 'doctor 1: may not record an identifier for someone else''s patient');
select throws_ok($$ update public.imported_vital_signs set value = '80' $$, '42501', null,
  'doctor 1: changes no imported vital sign');
select throws_ok($$ delete from public.fhir_source_identifiers $$, '42501', null,
  'doctor 1: deletes no source identifier');

-- -----------------------------------------------------------------------------
-- doctor 2: none of patient 1's rows
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000002');
select is((select count(*)::int from public.fhir_source_identifiers
            where patient_id = 'ee000000-0000-4000-8000-000000000001'), 0,
  'doctor 2: reads none of patient 1''s identifiers');
select is((select count(*)::int from public.imported_vital_signs), 0, 'doctor 2: reads no vital sign of patient 1');

-- -----------------------------------------------------------------------------
-- patients: their own rows, read only
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000001');
select is((select count(*)::int from public.imported_vital_signs), 2, 'patient 1: reads their own vital signs');
select throws_ok(
  $$ insert into public.imported_vital_signs (patient_id, name, value, unit, effective_at, recorded_by)
     values ('ee000000-0000-4000-8000-000000000001', 'Peso', '70', 'kg', now(),
             'ee000000-0000-4000-8000-000000000001') $$,
  '42501', null, 'patient 1: may not import a vital sign');
select tests.authenticate_as('ee000000-0000-4000-8000-000000000002');
select is((select count(*)::int from public.imported_vital_signs), 0, 'patient 2: reads no one else''s vital sign');
select is((select count(*)::int from public.fhir_source_identifiers
            where patient_id = 'ee000000-0000-4000-8000-000000000001'), 0,
  'patient 2: reads none of patient 1''s identifiers');

select tests.clear_authentication();
select * from finish();
rollback;
