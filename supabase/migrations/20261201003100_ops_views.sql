-- Read-only operations for the clinic's admins, in Supabase Studio (or psql):
-- the day's schedule, the waiting queue, consultations by state, chat and
-- consultation activity, reminders and WhatsApp deliveries, the audit log.
-- Ids, states, times and counts only: no clinical content, message text,
-- file name, name or phone number (tests/ops_views.test.ts checks every
-- column each view reads against the PHI comments of 20261201003000).
--
-- Who reads them: the role ops_reader, nothing else. anon, authenticated and
-- service_role have no access to the schema, and the schema is not one the
-- Data API serves (supabase/config.toml: api.schemas = ["public"], and the
-- API is off). An admin gets a login that is a member of ops_reader (README,
-- "Admins in Studio").
--
-- The views are not security_invoker: they read the tables with their owner's
-- rights, so ops_reader needs (and has) no grant on any table, and so cannot
-- read a PHI column by going around a view. With security_invoker the reader
-- would need SELECT on the tables themselves, PHI columns and all, and a
-- policy for it on each. Supabase's lint warns about such views in schemas
-- the Data API exposes, where anon or authenticated could reach them; ops is
-- not exposed and they have no grant on it. The views call no function: a
-- function in a view runs with the reader's rights, which reach no table.

do $$
begin
  if not exists (select from pg_roles where rolname = 'ops_reader') then
    create role ops_reader nologin;
  end if;
end
$$;

create schema ops;
comment on schema ops is
  'Read-only views for the clinic''s admins (role ops_reader): operations without PHI.';
revoke all on schema ops from public;
grant usage on schema ops to ops_reader;

create view ops.todays_schedule with (security_invoker = false) as
select a.doctor_id,
       s.name as specialty,
       a.id as appointment_id,
       a.starts_at,
       a.ends_at,
       a.status,
       c.id as consultation_id,
       c.status as consultation_status
  from public.appointments a
  join public.specialties s on s.id = a.specialty_id
  cross join public.clinic_settings cs
  left join public.consultations c on c.appointment_id = a.id
 where (a.starts_at at time zone cs.time_zone)::date = (now() at time zone cs.time_zone)::date;
comment on view ops.todays_schedule is
  'Today''s appointments (in the clinic''s time zone), per doctor: times, states and the consultation if any.';

create view ops.waiting_queue with (security_invoker = false) as
select c.id as consultation_id,
       c.doctor_id,
       c.appointment_id,
       a.starts_at as appointment_starts_at,
       c.created_at as opened_at,
       c.checked_in_at,
       now() - coalesce(c.checked_in_at, c.created_at) as waiting_for
  from public.consultations c
  join public.appointments a on a.id = c.appointment_id
 where c.status = 'waiting';
comment on view ops.waiting_queue is
  'Consultations waiting to start: since when (the patient''s check-in, else the opening).';

create view ops.consultations_by_state with (security_invoker = false) as
select state.status,
       count(c.id) as consultations,
       count(c.id) filter (where c.created_at >= now() - interval '24 hours') as opened_last_24h
  from unnest(enum_range(null::public.consultation_status)) as state (status)
  left join public.consultations c on c.status = state.status
 group by state.status;
comment on view ops.consultations_by_state is 'How many consultations are in each state (every state, zeros too).';

create view ops.conversation_activity with (security_invoker = false) as
select v.id as conversation_id,
       v.type,
       v.consultation_id,
       v.created_at,
       v.last_activity_at,
       (select count(*) from public.conversation_participants p
         where p.conversation_id = v.id and p.left_at is null) as participants,
       (select count(*) from public.chat_messages m
         where m.conversation_id = v.id and m.deleted_at is null) as messages,
       (select count(*) from public.chat_files f where f.conversation_id = v.id and f.status = 'shared') as files
  from public.conversations v;
comment on view ops.conversation_activity is
  'Per chat conversation: current participants, messages (not deleted) and shared files.';

create view ops.consultation_activity with (security_invoker = false) as
select c.id as consultation_id,
       c.doctor_id,
       c.status,
       c.created_at,
       c.closed_at,
       (select count(*) from public.consultation_messages m where m.consultation_id = c.id) as messages,
       (select count(*) from public.consultation_files f
         where f.consultation_id = c.id and f.status = 'uploaded') as files
  from public.consultations c;
comment on view ops.consultation_activity is
  'Per live consultation: its state, messages and uploaded files.';

create view ops.reminders with (security_invoker = false) as
select r.appointment_id,
       r.kind,
       r.sent_at,
       r.reply,
       r.replied_at,
       w.status as delivery_status,
       w.error_code,
       w.date_sent
  from public.appointment_reminders r
  left join public.whatsapp_messages w on w.id = r.whatsapp_message_id;
comment on view ops.reminders is
  'WhatsApp appointment reminders: when sent, Twilio''s delivery status, and the patient''s answer (confirmed/cancelled).';

create view ops.whatsapp_deliveries with (security_invoker = false) as
select w.id,
       w.message_sid,
       w.direction,
       w.purpose,
       w.status,
       w.error_code,
       w.user_id,
       w.created_at,
       w.date_sent,
       w.processed_at,
       w.updated_at
  from public.whatsapp_messages w;
comment on view ops.whatsapp_deliveries is
  'Every WhatsApp message in and out, with its status and Twilio error code; never its text or phone numbers.';

create view ops.audit_log with (security_invoker = false) as
select e.id,
       e.occurred_at,
       e.actor_id,
       e.actor_role,
       e.action,
       e.resource_type,
       e.resource_id
  from public.audit_events e;
comment on view ops.audit_log is 'Who read or changed which clinical record, when (ids only).';

revoke all on all tables in schema ops from public, anon, authenticated, service_role;
grant select on all tables in schema ops to ops_reader;
