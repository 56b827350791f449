-- =============================================================================
-- RLS matrix: Realtime's private topics (realtime.messages), checked as
-- Supabase Realtime checks them: as the token's role and claims with
-- realtime.topic set, a select of probe rows to join and receive, an insert
-- per extension ('broadcast', 'presence') to send and track.
--
-- - Only a platform token of a live session (session_id, expiring within the
--   hour) is admitted (20261201006000); the 30-day API token is not.
-- - The server's topics consultation:{id} and conversation:{id} are read-only
--   for clients; each participant writes only their own
--   <kind>:{id}:user:{userId} (20261201006100); the server's events still
--   go out through realtime.send from the security-definer triggers.
--
-- Runs with `supabase test db` (pg_prove) and in `deno task test` on the
-- PostgreSQL leg (tests/pgtap.test.ts). One transaction, rolled back.
--
-- Actors (fixed ids; the same in every file of this folder):
--   admin     aa000000-0000-4000-8000-000000000001
--   doctor 1  dd000000-0000-4000-8000-000000000001  the consultation's and the conversation's doctor
--   patient 1 ee000000-0000-4000-8000-000000000001  the consultation's and the conversation's patient
--   patient 2 ee000000-0000-4000-8000-000000000002  neither
-- =============================================================================
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
set local client_min_messages = warning;

select plan(28);

-- -----------------------------------------------------------------------------
-- Fixtures, as the owner (outside RLS)
-- -----------------------------------------------------------------------------
insert into public.specialties (id, name) values ('5e000000-0000-4000-8000-000000000001', 'pgTAP specialty');

insert into public.users (id, role, name, last_name, phone, email, specialty_id) values
  ('aa000000-0000-4000-8000-000000000001', 'admin', 'Ada', 'Admin', '+5490000000001', 'admin@pgtap.test', null),
  ('dd000000-0000-4000-8000-000000000001', 'doctor', 'Dora', 'One', '+5490000000002', 'doctor1@pgtap.test',
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
   'aa000000-0000-4000-8000-000000000001');

insert into public.consultations (id, appointment_id, doctor_id, patient_id) values
  ('c1000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001',
   'dd000000-0000-4000-8000-000000000001', 'ee000000-0000-4000-8000-000000000001');

insert into public.conversations (id, type, created_by) values
  ('c0000000-0000-4000-8000-000000000001', 'direct', 'ee000000-0000-4000-8000-000000000001');
insert into public.conversation_participants (conversation_id, user_id) values
  ('c0000000-0000-4000-8000-000000000001', 'dd000000-0000-4000-8000-000000000001'),
  ('c0000000-0000-4000-8000-000000000001', 'ee000000-0000-4000-8000-000000000001');

insert into private.sessions (jti, user_id, expires_at, revoked_at, revoked_reason) values
  ('5e551000-0000-4000-8000-000000000001', 'ee000000-0000-4000-8000-000000000001', now() + interval '30 days',
   null, null),
  ('5e551000-0000-4000-8000-000000000002', 'ee000000-0000-4000-8000-000000000002', now() + interval '30 days',
   null, null),
  ('5e551000-0000-4000-8000-000000000003', 'dd000000-0000-4000-8000-000000000001', now() + interval '30 days',
   null, null),
  ('5e551000-0000-4000-8000-000000000004', 'ee000000-0000-4000-8000-000000000001', now() + interval '30 days',
   now(), 'logout'),
  ('5e551000-0000-4000-8000-000000000005', 'aa000000-0000-4000-8000-000000000001', now() + interval '30 days',
   null, null);

-- Probe rows, one per topic and extension, as Realtime inserts them before a join's select.
insert into realtime.messages (id, topic, extension)
select gen_random_uuid(), t.topic, e.extension
  from (values
    ('consultation:c1000000-0000-4000-8000-000000000001'),
    ('consultation:c1000000-0000-4000-8000-000000000001:user:dd000000-0000-4000-8000-000000000001'),
    ('consultation:c1000000-0000-4000-8000-000000000001:user:ee000000-0000-4000-8000-000000000001'),
    ('conversation:c0000000-0000-4000-8000-000000000001'),
    ('conversation:c0000000-0000-4000-8000-000000000001:user:dd000000-0000-4000-8000-000000000001')
  ) t (topic)
  cross join (values ('broadcast'), ('presence')) e (extension);

-- As Realtime evaluates a token: its claims, realtime.topic, the authenticated role.
create or replace function tests.realtime_as(p_claims jsonb, p_topic text) returns void
language plpgsql as $$
begin
  perform set_config('role', 'none', true);
  perform set_config('request.jwt.claims', p_claims::text, true);
  perform set_config('realtime.topic', p_topic, true);
  perform set_config('role', 'authenticated', true);
end
$$;

-- A platform token's claims (POST /v1/auth/realtime-token), expiring in p_seconds.
create or replace function tests.platform_claims(p_user uuid, p_session uuid, p_seconds integer default 300)
returns jsonb
language sql as $$
  select jsonb_build_object(
    'sub', p_user, 'role', 'authenticated', 'aud', 'authenticated',
    'user_role', (select u.role::text from public.users u where u.id = p_user),
    'session_id', p_session,
    'iat', floor(extract(epoch from now())), 'exp', floor(extract(epoch from now())) + p_seconds
  )
$$;

-- As Realtime evaluates a platform token of that user and session for a topic.
-- The claims are read as the owner: the previous actor's RLS would hide the user's role.
create or replace function tests.realtime_as_platform(
  p_user uuid, p_session uuid, p_topic text, p_seconds integer default 300
) returns void
language plpgsql as $$
begin
  perform set_config('role', 'none', true);
  perform tests.realtime_as(tests.platform_claims(p_user, p_session, p_seconds), p_topic);
end
$$;

-- What a select of the topic's probes sees, per extension.
create or replace function tests.realtime_reads(p_extension text) returns integer
language sql as $$
  select count(*)::int from realtime.messages m
   where m.topic = realtime.topic() and m.extension = p_extension and m.event is null
$$;

-- Supabase's write check: one insert of the topic and extension.
create or replace function tests.realtime_writes(p_extension text) returns boolean
language plpgsql as $$
begin
  insert into realtime.messages (topic, extension) values (realtime.topic(), p_extension);
  return true;
exception when insufficient_privilege then
  return false;
end
$$;

grant execute on all functions in schema tests to anon, authenticated, service_role;

-- -----------------------------------------------------------------------------
-- The consultation's server topic: read-only for its members
-- -----------------------------------------------------------------------------
select tests.realtime_as_platform('ee000000-0000-4000-8000-000000000001', '5e551000-0000-4000-8000-000000000001',
  'consultation:c1000000-0000-4000-8000-000000000001');
select is(tests.realtime_reads('broadcast'), 1, 'patient 1: receives the server''s topic');
select is(tests.realtime_writes('broadcast'), false, 'patient 1: cannot broadcast on the server''s topic');
select is(tests.realtime_writes('presence'), false, 'patient 1: cannot track on the server''s topic');

select tests.realtime_as_platform('dd000000-0000-4000-8000-000000000001', '5e551000-0000-4000-8000-000000000003',
  'consultation:c1000000-0000-4000-8000-000000000001');
select is(tests.realtime_reads('broadcast'), 1, 'doctor 1: receives the server''s topic');
select is(tests.realtime_writes('broadcast'), false, 'doctor 1: cannot broadcast on the server''s topic either');

-- -----------------------------------------------------------------------------
-- Each member's own topic: they write it, the other reads it
-- -----------------------------------------------------------------------------
select tests.realtime_as_platform('ee000000-0000-4000-8000-000000000001', '5e551000-0000-4000-8000-000000000001',
  'consultation:c1000000-0000-4000-8000-000000000001:user:ee000000-0000-4000-8000-000000000001');
select is(tests.realtime_reads('presence'), 1, 'patient 1: receives their own topic');
select is(tests.realtime_writes('broadcast'), true, 'patient 1: broadcasts (typing) on their own topic');
select is(tests.realtime_writes('presence'), true, 'patient 1: tracks presence on their own topic');

select tests.realtime_as_platform('ee000000-0000-4000-8000-000000000001', '5e551000-0000-4000-8000-000000000001',
  'consultation:c1000000-0000-4000-8000-000000000001:user:dd000000-0000-4000-8000-000000000001');
select is(tests.realtime_reads('broadcast'), 1, 'patient 1: receives the doctor''s topic');
select is(tests.realtime_reads('presence'), 1, 'patient 1: sees the doctor''s presence');
select is(tests.realtime_writes('broadcast'), false, 'patient 1: cannot broadcast as the doctor');
select is(tests.realtime_writes('presence'), false, 'patient 1: cannot track as the doctor');

select tests.realtime_as_platform('dd000000-0000-4000-8000-000000000001', '5e551000-0000-4000-8000-000000000003',
  'consultation:c1000000-0000-4000-8000-000000000001:user:dd000000-0000-4000-8000-000000000001');
select is(tests.realtime_writes('broadcast'), true, 'doctor 1: broadcasts on their own topic');

-- -----------------------------------------------------------------------------
-- Outsiders and the wrong tokens
-- -----------------------------------------------------------------------------
select tests.realtime_as_platform('ee000000-0000-4000-8000-000000000002', '5e551000-0000-4000-8000-000000000002',
  'consultation:c1000000-0000-4000-8000-000000000001');
select is(tests.realtime_reads('broadcast'), 0, 'patient 2: does not receive another''s consultation');
select tests.realtime_as_platform('ee000000-0000-4000-8000-000000000002', '5e551000-0000-4000-8000-000000000002',
  'consultation:c1000000-0000-4000-8000-000000000001:user:ee000000-0000-4000-8000-000000000002');
select is(tests.realtime_writes('presence'), false, 'patient 2: has no topic of their own in it');

select tests.realtime_as_platform('aa000000-0000-4000-8000-000000000001', '5e551000-0000-4000-8000-000000000005',
  'consultation:c1000000-0000-4000-8000-000000000001');
select is(tests.realtime_reads('broadcast'), 0, 'admin: does not receive a consultation');

select tests.realtime_as(
  jsonb_build_object('sub', 'ee000000-0000-4000-8000-000000000001', 'role', 'authenticated',
    'aud', 'authenticated', 'user_role', 'patient', 'phone', '+5490000000004',
    'jti', '5e551000-0000-4000-8000-000000000001',
    'iat', floor(extract(epoch from now())), 'exp', floor(extract(epoch from now())) + 30 * 86400),
  'consultation:c1000000-0000-4000-8000-000000000001'
);
select is(tests.realtime_reads('broadcast'), 0, 'patient 1 with the 30-day API token: refused');

select tests.realtime_as_platform('ee000000-0000-4000-8000-000000000001', '5e551000-0000-4000-8000-000000000001',
  'consultation:c1000000-0000-4000-8000-000000000001', 7200);
select is(tests.realtime_reads('broadcast'), 0, 'patient 1 with a token of two hours: refused');

select tests.realtime_as_platform('ee000000-0000-4000-8000-000000000001', '5e551000-0000-4000-8000-000000000001',
  'consultation:c1000000-0000-4000-8000-000000000001', 3600);
select is(tests.realtime_reads('broadcast'), 1, 'patient 1 with a token of one hour: admitted');

select tests.realtime_as_platform('ee000000-0000-4000-8000-000000000001', '5e551000-0000-4000-8000-000000000004',
  'consultation:c1000000-0000-4000-8000-000000000001');
select is(tests.realtime_reads('broadcast'), 0, 'patient 1 with a signed-out session''s token: refused');

select tests.realtime_as_platform('ee000000-0000-4000-8000-000000000001', '5e551000-0000-4000-8000-000000000002',
  'consultation:c1000000-0000-4000-8000-000000000001');
select is(tests.realtime_reads('broadcast'), 0, 'patient 1 naming another user''s session: refused');

-- -----------------------------------------------------------------------------
-- A conversation: the same rules
-- -----------------------------------------------------------------------------
select tests.realtime_as_platform('ee000000-0000-4000-8000-000000000001', '5e551000-0000-4000-8000-000000000001',
  'conversation:c0000000-0000-4000-8000-000000000001');
select is(tests.realtime_reads('broadcast'), 1, 'patient 1: receives the conversation''s server topic');
select is(tests.realtime_writes('broadcast'), false, 'patient 1: cannot send new_message and the like');
select tests.realtime_as_platform('ee000000-0000-4000-8000-000000000001', '5e551000-0000-4000-8000-000000000001',
  'conversation:c0000000-0000-4000-8000-000000000001:user:dd000000-0000-4000-8000-000000000001');
select is(tests.realtime_reads('presence'), 1, 'patient 1: sees the doctor''s presence in the conversation');
select is(tests.realtime_writes('broadcast'), false, 'patient 1: cannot type as the doctor');
select tests.realtime_as_platform('ee000000-0000-4000-8000-000000000001', '5e551000-0000-4000-8000-000000000001',
  'conversation:c0000000-0000-4000-8000-000000000001:user:ee000000-0000-4000-8000-000000000001');
select is(tests.realtime_writes('broadcast'), true, 'patient 1: types on their own topic');

-- -----------------------------------------------------------------------------
-- The server's events still go out: the trigger's realtime.send is not a client's insert
-- -----------------------------------------------------------------------------
select tests.realtime_as_platform('dd000000-0000-4000-8000-000000000001', '5e551000-0000-4000-8000-000000000003',
  'consultation:c1000000-0000-4000-8000-000000000001');
select lives_ok($$ select app.close_consultation('c1000000-0000-4000-8000-000000000001') $$,
  'doctor 1: closes the consultation');
select tests.clear_authentication();
select is(
  (select count(*)::int from realtime.messages
    where topic = 'consultation:c1000000-0000-4000-8000-000000000001' and event = 'consultation.closed'),
  1, 'consultation.closed was sent on the read-only topic'
);

select * from finish();
rollback;
