-- =============================================================================
-- RLS matrix: public.audit_events (who read or wrote which clinical record).
-- Admins read it; nobody writes it but app.audit(), which always records the
-- caller as the actor.
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

select plan(20);

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


-- The log so far holds the two 'create patient' events of the fixtures; two
-- reads more, by doctor 1 and by patient 1.
insert into public.audit_events (id, actor_id, actor_role, action, resource_type, resource_id) values
  ('ae000000-0000-4000-8000-000000000001', 'dd000000-0000-4000-8000-000000000001', 'doctor', 'read', 'patient',
   'ee000000-0000-4000-8000-000000000001'),
  ('ae000000-0000-4000-8000-000000000002', 'ee000000-0000-4000-8000-000000000001', 'patient', 'read',
   'clinic_history', 'ee000000-0000-4000-8000-000000000001');

-- -----------------------------------------------------------------------------
-- anon: refused everywhere
-- -----------------------------------------------------------------------------
select tests.authenticate_as_anon();

select throws_ok(
  $$ select * from public.audit_events $$,
  '42501', null, 'anon: reading the audit log is refused'
);
select throws_ok(
  $$ insert into public.audit_events (action, resource_type, resource_id)
     values ('read', 'patient', 'ee000000-0000-4000-8000-000000000001') $$,
  '42501', null, 'anon: writing the audit log is refused'
);
select throws_ok(
  $$ select app.audit('read', 'patient', array['ee000000-0000-4000-8000-000000000001'::uuid]) $$,
  '42501', null, 'anon: app.audit is refused'
);

-- -----------------------------------------------------------------------------
-- admin: reads the log, cannot change it
-- -----------------------------------------------------------------------------
select tests.authenticate_as('aa000000-0000-4000-8000-000000000001');

select is(
  (select count(*)::int from public.audit_events
    where resource_id in ('ee000000-0000-4000-8000-000000000001', 'ee000000-0000-4000-8000-000000000002')),
  4, 'admin: reads the whole log (creations and reads)'
);
select throws_ok(
  $$ insert into public.audit_events (action, resource_type, resource_id)
     values ('read', 'patient', 'ee000000-0000-4000-8000-000000000001') $$,
  '42501', null, 'admin: writing the log directly is refused'
);
select throws_ok(
  $$ update public.audit_events set actor_id = null $$,
  '42501', null, 'admin: changing the log is refused'
);
select throws_ok(
  $$ delete from public.audit_events where id = 'ae000000-0000-4000-8000-000000000001' $$,
  '42501', null, 'admin: deleting from the log is refused'
);

-- -----------------------------------------------------------------------------
-- doctor 1, with a relationship to patient 1
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000001');

select is(
  (select count(*)::int from public.audit_events),
  0, 'doctor with relationship: reads no audit event, not even their own'
);
select throws_ok(
  $$ insert into public.audit_events (actor_id, actor_role, action, resource_type, resource_id)
     values ('dd000000-0000-4000-8000-000000000002', 'doctor', 'read', 'patient',
             'ee000000-0000-4000-8000-000000000001') $$,
  '42501', null, 'doctor: cannot write an event in another doctor''s name'
);
select throws_ok(
  $$ delete from public.audit_events where actor_id = 'dd000000-0000-4000-8000-000000000001' $$,
  '42501', null, 'doctor: cannot erase their traces'
);
select lives_ok(
  $$ select app.audit('read', 'antecedents', array['ee000000-0000-4000-8000-000000000001'::uuid]) $$,
  'doctor with relationship: records their access through app.audit'
);

-- -----------------------------------------------------------------------------
-- doctor 2, without a relationship to patient 1
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000002');

select is(
  (select count(*)::int from public.audit_events where resource_id = 'ee000000-0000-4000-8000-000000000001'),
  0, 'doctor without relationship: reads nothing about patient 1 (not even who saw them)'
);
select throws_ok(
  $$ update public.audit_events set actor_id = null where resource_id = 'ee000000-0000-4000-8000-000000000001' $$,
  '42501', null, 'doctor without relationship: changing the log is refused'
);

-- -----------------------------------------------------------------------------
-- patient 1, themselves
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000001');

select is(
  (select count(*)::int from public.audit_events),
  0, 'patient: reads no audit event, not even about themselves'
);
select throws_ok(
  $$ insert into public.audit_events (action, resource_type, resource_id)
     values ('delete', 'clinic_history', 'ee000000-0000-4000-8000-000000000001') $$,
  '42501', null, 'patient: writing the log directly is refused'
);

-- -----------------------------------------------------------------------------
-- patient 2, another patient
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000002');

select is(
  (select count(*)::int from public.audit_events where resource_id = 'ee000000-0000-4000-8000-000000000001'),
  0, 'other patient: reads nothing about patient 1'
);
select throws_ok(
  $$ delete from public.audit_events $$,
  '42501', null, 'other patient: deleting the log is refused'
);

-- -----------------------------------------------------------------------------
-- owner: app.audit recorded the caller, nothing else changed
-- -----------------------------------------------------------------------------
select tests.clear_authentication();

select results_eq(
  $$ select actor_id, actor_role::text, action, resource_type from public.audit_events
      where resource_type = 'antecedents' and resource_id = 'ee000000-0000-4000-8000-000000000001' $$,
  $$ values ('dd000000-0000-4000-8000-000000000001'::uuid, 'doctor', 'read', 'antecedents') $$,
  'owner: app.audit recorded doctor 1 as the actor, from the JWT'
);
select is(
  (select count(*)::int from public.audit_events
    where resource_id in ('ee000000-0000-4000-8000-000000000001', 'ee000000-0000-4000-8000-000000000002')),
  5, 'owner: the log holds the four events and the doctor''s read, nothing forged'
);

-- -----------------------------------------------------------------------------
-- RLS does not apply to TRUNCATE, so the migrations take TRUNCATE back from
-- the API roles (Supabase's default privileges grant it). Last, because it
-- would empty the log if it were open.
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000001');
select throws_ok(
  $$ truncate public.audit_events $$,
  '42501', null, 'patient: cannot empty the audit log with TRUNCATE'
);
select tests.clear_authentication();

select * from finish();
rollback;
