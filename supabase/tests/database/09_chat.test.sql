-- =============================================================================
-- RLS matrix: the chat (20261123000600_chat.sql). Participants read their
-- conversations' messages; nobody else does, an admin included, who reads
-- metadata and reported messages through app.chat_conversation_states() and
-- app.chat_reports(). Messages are never deleted; chat hours and blocks hold
-- for direct writes too.
--
-- Runs with `supabase test db` (pg_prove) and in `deno task test` on the
-- PostgreSQL leg (tests/pgtap.test.ts). One transaction, rolled back.
--
-- Actors (fixed ids; the same in every file of this folder):
--   admin     aa000000-0000-4000-8000-000000000001
--   doctor 1  dd000000-0000-4000-8000-000000000001  has an appointment with patient 1
--   patient 1 ee000000-0000-4000-8000-000000000001
--   patient 2 ee000000-0000-4000-8000-000000000002  no appointment with doctor 1
-- 'now' is fixed at 12:00 in Buenos Aires (the clinic's default time zone)
-- through consultorio.test_now, as the API's test clock does.
-- =============================================================================
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
set local client_min_messages = warning;
set local consultorio.test_now = '2026-11-24T15:00:00Z';

select plan(22);

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

insert into public.conversations (id, type, created_by) values
  ('c0000000-0000-4000-8000-000000000001', 'direct', 'ee000000-0000-4000-8000-000000000001');
insert into public.conversation_participants (conversation_id, user_id) values
  ('c0000000-0000-4000-8000-000000000001', 'dd000000-0000-4000-8000-000000000001'),
  ('c0000000-0000-4000-8000-000000000001', 'ee000000-0000-4000-8000-000000000001');

-- -----------------------------------------------------------------------------
-- Participants
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000001');

select lives_ok(
  $$ insert into public.chat_messages (id, conversation_id, sender_id, body) values
     ('3e000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-000000000001',
      'ee000000-0000-4000-8000-000000000001', 'Me duele la cabeza') $$,
  'patient 1: sends a message in their conversation'
);
select throws_ok(
  $$ insert into public.chat_messages (conversation_id, sender_id, body) values
     ('c0000000-0000-4000-8000-000000000001', 'dd000000-0000-4000-8000-000000000001', 'Suplantado') $$,
  '42501', null, 'patient 1: cannot send as the doctor'
);
select is(
  (select id from app.create_chat_conversation('direct', '{dd000000-0000-4000-8000-000000000001}', null, null, null)),
  'c0000000-0000-4000-8000-000000000001'::uuid,
  'patient 1: starting a direct conversation with their doctor answers the open one'
);
select lives_ok(
  $$ update public.chat_messages set body = 'Me duele mucho la cabeza'
      where id = '3e000000-0000-4000-8000-000000000001' $$,
  'patient 1: edits their own message'
);
select throws_ok(
  $$ delete from public.chat_messages where id = '3e000000-0000-4000-8000-000000000001' $$,
  '42501', null, 'patient 1: cannot hard-delete a message (retention)'
);
select throws_ok(
  $$ select * from private.chat_message_versions $$,
  '42501', null, 'patient 1: cannot read the retained versions'
);

select tests.authenticate_as('dd000000-0000-4000-8000-000000000001');

select is(
  (select app.chat_message_json(m) -> 'editHistory' -> 0 ->> 'content' from public.chat_messages m
    where m.id = '3e000000-0000-4000-8000-000000000001'),
  'Me duele la cabeza', 'doctor 1: reads the message''s edit history'
);
select is(
  tests.affected($$ update public.chat_messages set body = 'Ajeno' where id = '3e000000-0000-4000-8000-000000000001' $$),
  0, 'doctor 1: cannot edit the patient''s message'
);
select lives_ok(
  $$ insert into public.chat_message_reports (message_id, conversation_id, reported_by, reason)
     values ('3e000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-000000000001',
             'dd000000-0000-4000-8000-000000000001', 'other') $$,
  'doctor 1: reports a message of their conversation'
);
select is(
  (select count(*)::integer from app.chat_reports(null, null, 10)), 0,
  'doctor 1: the moderation list is empty for a non-admin'
);

-- -----------------------------------------------------------------------------
-- Someone else
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000002');

select is((select count(*)::integer from public.chat_messages), 0, 'patient 2: reads no message');
select is((select count(*)::integer from public.conversations), 0, 'patient 2: reads no conversation');
select throws_ok(
  $$ insert into public.chat_messages (conversation_id, sender_id, body) values
     ('c0000000-0000-4000-8000-000000000001', 'ee000000-0000-4000-8000-000000000002', 'Intruso') $$,
  '42501', null, 'patient 2: cannot write in someone else''s conversation'
);
select throws_ok(
  $$ select app.create_chat_conversation('direct', '{dd000000-0000-4000-8000-000000000001}', null, null, null) $$,
  'P0001', 'CHAT_001', 'patient 2: cannot start a conversation with a doctor who never saw them'
);
select is(
  (select count(*)::integer from public.chat_messages where search_vector @@ websearch_to_tsquery('spanish', 'cabeza')),
  0, 'patient 2: search finds nothing of another conversation'
);

-- -----------------------------------------------------------------------------
-- The admin: metadata and the reported message, never other text
-- -----------------------------------------------------------------------------
select tests.authenticate_as('aa000000-0000-4000-8000-000000000001');

select is((select count(*)::integer from public.chat_messages), 0, 'admin: reads no message');
select is(
  (select count(*)::integer from app.chat_conversation_states(null, null, null, 10)), 1,
  'admin: reads the conversations'' metadata'
);
select is(
  (select report -> 'message' ->> 'content' from app.chat_reports(null, null, 10)),
  'Me duele mucho la cabeza', 'admin: reads the reported message''s text'
);
select throws_ok(
  $$ insert into public.chat_blocks (blocker_id, blocked_id) values
     ('aa000000-0000-4000-8000-000000000001', 'aa000000-0000-4000-8000-000000000001') $$,
  'P0001', 'VAL_001', 'admin: nobody blocks themselves'
);

-- -----------------------------------------------------------------------------
-- Blocks and chat hours hold for direct writes too
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000001');
select throws_ok(
  $$ insert into public.chat_blocks (blocker_id, blocked_id) values
     ('ee000000-0000-4000-8000-000000000001', 'aa000000-0000-4000-8000-000000000001') $$,
  'P0001', 'AUTH_002', 'patient 1: cannot block an admin'
);

set local consultorio.test_now = '2026-11-25T02:00:00Z';
select throws_ok(
  $$ insert into public.chat_messages (conversation_id, sender_id, body) values
     ('c0000000-0000-4000-8000-000000000001', 'ee000000-0000-4000-8000-000000000001', 'Son las 23') $$,
  'P0001', 'CHAT_002', 'patient 1: at 23:00 clinic time a direct conversation is closed'
);

set local consultorio.test_now = '2026-11-24T15:00:00Z';
select tests.authenticate_as('dd000000-0000-4000-8000-000000000001');
insert into public.chat_blocks (blocker_id, blocked_id)
values ('dd000000-0000-4000-8000-000000000001', 'ee000000-0000-4000-8000-000000000001');
select tests.authenticate_as('ee000000-0000-4000-8000-000000000001');
select throws_ok(
  $$ insert into public.chat_messages (conversation_id, sender_id, body) values
     ('c0000000-0000-4000-8000-000000000001', 'ee000000-0000-4000-8000-000000000001', 'Hola') $$,
  'P0001', 'CHAT_003', 'patient 1: blocked by the doctor, cannot message them'
);

select * from finish();
rollback;
