-- =============================================================================
-- RLS matrix: the WhatsApp assistant's tables. A doctor reads and writes
-- their own AI conversation (the messages' read mark only, no other column);
-- nobody else sees it, an admin included. A WhatsApp message sent through
-- the API is read by its sender only. A patient reads their own reminders.
-- Assistant runs hold sessions of their own purpose.
--
-- Runs with `supabase test db` (pg_prove) and in `deno task test` on the
-- PostgreSQL leg (tests/pgtap.test.ts). One transaction, rolled back.
--
-- Actors (fixed ids; the same in every file of this folder):
--   admin    aa000000-0000-4000-8000-000000000001
--   doctor 1 dd000000-0000-4000-8000-000000000001  has an appointment with patient 1, and an AI conversation
--   doctor 2 dd000000-0000-4000-8000-000000000002  has an appointment with patient 2 only
--   patient 1 ee000000-0000-4000-8000-000000000001  got a reminder
--   patient 2 ee000000-0000-4000-8000-000000000002
-- =============================================================================
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
set local client_min_messages = warning;

select plan(26);

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


insert into public.ai_conversations (id, doctor_id, model, system_prompt) values
  ('c0000000-0000-4000-8000-000000000001', 'dd000000-0000-4000-8000-000000000001', 'gpt-4o-mini', 'Prompt');
insert into public.ai_messages (conversation_id, role, content, token_count) values
  ('c0000000-0000-4000-8000-000000000001', 'user', '¿Qué turnos tengo hoy?', 6),
  ('c0000000-0000-4000-8000-000000000001', 'assistant', 'Uno, a las 10:00.', 5);
insert into public.whatsapp_messages
  (id, message_sid, direction, purpose, user_id, sent_by, from_phone, to_phone, body, status) values
  ('77000000-0000-4000-8000-000000000001', 'SM00000000000000000000000000000001', 'outbound', 'manual',
   'ee000000-0000-4000-8000-000000000001', 'aa000000-0000-4000-8000-000000000001',
   'whatsapp:+14155238886', 'whatsapp:+5490000000004', 'Recuerde su turno', 'queued'),
  ('77000000-0000-4000-8000-000000000002', 'SM00000000000000000000000000000002', 'outbound', 'reminder',
   'ee000000-0000-4000-8000-000000000001', null,
   'whatsapp:+14155238886', 'whatsapp:+5490000000004', 'Recordatorio', 'queued');
insert into public.appointment_reminders (appointment_id, kind, patient_id, whatsapp_message_id) values
  ('a1000000-0000-4000-8000-000000000001', '24h', 'ee000000-0000-4000-8000-000000000001',
   '77000000-0000-4000-8000-000000000002');

-- -----------------------------------------------------------------------------
-- anon: refused everywhere
-- -----------------------------------------------------------------------------
select tests.authenticate_as_anon();

select throws_ok($$ select * from public.ai_messages $$, '42501', null, 'anon: AI messages are refused');
select throws_ok($$ select * from public.whatsapp_messages $$, '42501', null, 'anon: WhatsApp messages are refused');

-- -----------------------------------------------------------------------------
-- doctor 1: their own conversation
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000001');

select is((select count(*)::int from public.ai_conversations), 1, 'doctor 1: reads their conversation');
select is((select count(*)::int from public.ai_messages), 2, 'doctor 1: reads its messages');
select is(
  tests.affected($$ update public.ai_messages set read_at = now() where role = 'assistant' $$),
  1, 'doctor 1: marks the answers read'
);
select throws_ok(
  $$ update public.ai_messages set content = 'otra cosa' $$,
  '42501', null, 'doctor 1: cannot rewrite a message'
);
select throws_ok(
  $$ insert into public.ai_conversations (doctor_id, model, system_prompt)
     values ('dd000000-0000-4000-8000-000000000002', 'm', 'p') $$,
  '42501', null, 'doctor 1: cannot create a conversation for someone else (nor directly)'
);
select is((select count(*)::int from public.whatsapp_messages), 0, 'doctor 1: reads no message the admin sent');
select is((select count(*)::int from public.appointment_reminders), 0, 'doctor 1: reads no patient reminder');
select throws_ok(
  $$ insert into public.whatsapp_messages
       (message_sid, direction, purpose, sent_by, from_phone, to_phone, body, status)
     values ('SM00000000000000000000000000000003', 'outbound', 'manual',
             'aa000000-0000-4000-8000-000000000001', 'a', 'b', 'c', 'queued') $$,
  '42501', null, 'doctor 1: cannot record a message as sent by someone else'
);

-- -----------------------------------------------------------------------------
-- doctor 2: none of doctor 1's conversation
-- -----------------------------------------------------------------------------
select tests.authenticate_as('dd000000-0000-4000-8000-000000000002');

select is((select count(*)::int from public.ai_conversations), 0, 'doctor 2: reads no other conversation');
select is((select count(*)::int from public.ai_messages), 0, 'doctor 2: reads no other message');
select is(
  tests.affected($$ update public.ai_messages set read_at = now() $$),
  0, 'doctor 2: marks nothing of another conversation'
);
select throws_ok(
  $$ insert into public.ai_messages (conversation_id, role, content)
     values ('c0000000-0000-4000-8000-000000000001', 'user', 'Intruso') $$,
  '42501', null, 'doctor 2: cannot write into another conversation'
);
select isnt(
  app.ensure_ai_conversation('gpt-4o-mini', 'Prompt'), null, 'doctor 2: gets a conversation of their own'
);
select is(
  (select doctor_id from public.ai_conversations), 'dd000000-0000-4000-8000-000000000002'::uuid,
  'doctor 2: and only sees that one'
);

-- -----------------------------------------------------------------------------
-- admin: the messages they sent, no conversation
-- -----------------------------------------------------------------------------
select tests.authenticate_as('aa000000-0000-4000-8000-000000000001');

select is((select count(*)::int from public.ai_conversations), 0, 'admin: reads no AI conversation');
select is((select count(*)::int from public.ai_messages), 0, 'admin: reads no AI message');
select is(
  (select array_agg(message_sid) from public.whatsapp_messages), array['SM00000000000000000000000000000001'],
  'admin: reads the WhatsApp message they sent, not the reminders'
);

-- -----------------------------------------------------------------------------
-- patients: their own reminders; no assistant
-- -----------------------------------------------------------------------------
select tests.authenticate_as('ee000000-0000-4000-8000-000000000001');

select is((select count(*)::int from public.appointment_reminders), 1, 'patient 1: reads their reminder');
select throws_ok(
  $$ select app.ensure_ai_conversation('m', 'p') $$,
  'P0001', 'AUTH_002', 'patient 1: the assistant is for doctors'
);
select throws_ok(
  $$ update public.appointment_reminders set reply = 'confirmed' $$,
  '42501', null, 'patient 1: answers reminders through WhatsApp only'
);

select tests.authenticate_as('ee000000-0000-4000-8000-000000000002');
select is((select count(*)::int from public.appointment_reminders), 0, 'patient 2: reads no other reminder');

-- -----------------------------------------------------------------------------
-- Sessions: an assistant run's session is of its own purpose
-- -----------------------------------------------------------------------------
select tests.clear_authentication();
select throws_ok(
  $$ insert into private.sessions (jti, user_id, expires_at, purpose)
     values (gen_random_uuid(), 'dd000000-0000-4000-8000-000000000001', now() + interval '1 minute', 'other') $$,
  '23514', null, 'a session is an access token or an assistant run'
);

-- A status callback that overtook the recording of its message is applied when it is recorded.
insert into private.whatsapp_early_statuses (message_sid, status) values ('SM00000000000000000000000000000009', 'delivered');
insert into public.whatsapp_messages (message_sid, direction, purpose, from_phone, to_phone, body, status)
values ('SM00000000000000000000000000000009', 'outbound', 'assistant', 'a', 'b', 'c', 'queued');
select is(
  (select status from public.whatsapp_messages where message_sid = 'SM00000000000000000000000000000009'),
  'delivered', 'an early status callback is applied to its message when it is recorded'
);
select is(
  (select count(*)::int from private.whatsapp_early_statuses), 0, 'and is then gone'
);

select * from finish();
rollback;
