-- =============================================================================
-- Notifications: each user's private Realtime topic `user:{userId}`, and Web
-- Push to their devices when the app is closed.
--
-- The database sends every event with realtime.send() from security-definer
-- triggers, in the transaction of the change: an event goes out if and only
-- if the change commits. Only {userId} reads the topic; no client sends on it
-- (no insert policy), so an event there is always the server's.
--
-- Payloads carry ids, times, states and counts, never clinical text nor
-- message content: the topic and the push service see only what the user
-- may see anyway, and a push crosses a third party's service.
--
-- A push is recorded in private.push_deliveries in the same transaction and
-- sent after commit by the `push` function (Supabase Cron), which claims
-- deliveries, commits, then calls the push services: no transaction is held
-- open while a push service answers.
-- =============================================================================

create policy "Users can receive on their own topic"
  on realtime.messages for select to authenticated
  using (
    extension in ('broadcast', 'presence')
    and app.topic_id(realtime.topic(), 'user') = (select auth.uid())
  );

-- -----------------------------------------------------------------------------
-- Push subscriptions: one per device (browser), each with its own endpoint
-- -----------------------------------------------------------------------------

create table public.push_subscriptions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.users (id) on delete cascade,
  endpoint text not null,
  p256dh text not null,
  auth text not null,
  created_at timestamptz not null default now(),
  last_sent_at timestamptz,
  constraint push_subscriptions_endpoint_key unique (endpoint),
  constraint push_subscriptions_endpoint_check check (endpoint ~ '^https?://' and char_length(endpoint) <= 1024),
  -- A P-256 public point (65 bytes) and a 16-byte secret, base64url without padding.
  constraint push_subscriptions_p256dh_check check (p256dh ~ '^[A-Za-z0-9_-]{87}$'),
  constraint push_subscriptions_auth_check check (auth ~ '^[A-Za-z0-9_-]{22}$')
);

comment on table public.push_subscriptions is
  'A device''s Web Push subscription (its push service endpoint and keys). Its user reads and deletes it; '
  'app.save_push_subscription() writes it. Removed when the push service says it expired (404/410).';

create index push_subscriptions_user_idx on public.push_subscriptions (user_id, created_at);

alter table public.push_subscriptions enable row level security;
revoke all on public.push_subscriptions from anon;
revoke insert, update, truncate, references, trigger on public.push_subscriptions from authenticated;

create policy "Users can read their push subscriptions"
  on public.push_subscriptions for select to authenticated
  using (user_id = (select auth.uid()));

create policy "Users can delete their push subscriptions"
  on public.push_subscriptions for delete to authenticated
  using (user_id = (select auth.uid()));

-- Saves the caller's subscription; saving it again (a retry, new keys) keeps
-- its id. An endpoint is one browser: if another account subscribed it
-- before (a shared device), that account's subscription goes, so its
-- notifications never reach the one now signed in there.
create or replace function app.save_push_subscription(p_endpoint text, p_p256dh text, p_auth text)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id uuid;
begin
  if auth.uid() is null then
    raise exception using errcode = 'P0001', message = 'AUTH_001', detail = 'Sesión requerida';
  end if;
  perform pg_advisory_xact_lock(hashtextextended('push-subscriptions:' || auth.uid()::text, 0));
  delete from public.push_subscriptions s where s.endpoint = p_endpoint and s.user_id <> auth.uid();
  if (select count(*) from public.push_subscriptions s
       where s.user_id = auth.uid() and s.endpoint <> p_endpoint) >= 10 then
    raise exception using errcode = 'P0001', message = 'RES_002',
      detail = 'Como máximo 10 dispositivos reciben notificaciones: borre uno', hint = 'endpoint';
  end if;
  insert into public.push_subscriptions as s (user_id, endpoint, p256dh, auth)
  values (auth.uid(), p_endpoint, p_p256dh, p_auth)
  on conflict (endpoint) do update set p256dh = excluded.p256dh, auth = excluded.auth
  returning s.id into v_id;
  return v_id;
end;
$$;

revoke all on function app.save_push_subscription(text, text, text) from public;
grant execute on function app.save_push_subscription(text, text, text) to authenticated;

-- -----------------------------------------------------------------------------
-- Pushes waiting to be sent
-- -----------------------------------------------------------------------------

create table private.push_deliveries (
  id bigint generated always as identity primary key,
  subscription_id uuid not null references public.push_subscriptions (id) on delete cascade,
  payload jsonb not null,
  urgency text not null default 'normal',
  created_at timestamptz not null default now(),
  claimed_at timestamptz,
  attempts integer not null default 0,
  constraint push_deliveries_urgency_check check (urgency in ('normal', 'high'))
);

comment on table private.push_deliveries is
  'Pushes recorded with the change that caused them, sent after commit by the push function.';

create index push_deliveries_subscription_idx on private.push_deliveries (subscription_id);
create index push_deliveries_pending_idx on private.push_deliveries (id) where claimed_at is null;

-- Only the security-definer functions below and service_role touch it.
alter table private.push_deliveries enable row level security;
revoke all on private.push_deliveries from anon, authenticated;

-- An event to a user: on their topic now (at commit), and to each of their
-- devices by push unless they caused it themselves (their open app already
-- knows). At most 50 pushes wait per device: a device that is never reached
-- does not pile up work.
create or replace function app.notify_user(p_user uuid, p_event text, p_payload jsonb, p_urgency text default 'normal')
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if p_user is null then
    return;
  end if;
  perform realtime.send(p_payload, p_event, 'user:' || p_user::text, true);
  if p_user is distinct from auth.uid() then
    insert into private.push_deliveries (subscription_id, payload, urgency)
    select s.id, jsonb_build_object('type', p_event, 'data', p_payload), p_urgency
      from public.push_subscriptions s
     where s.user_id = p_user
       and (select count(*) from private.push_deliveries d where d.subscription_id = s.id) < 50;
  end if;
end;
$$;

revoke all on function app.notify_user(uuid, text, jsonb, text) from public;

-- The push function's claim: up to p_limit deliveries, each claimed for two
-- minutes (a run that dies leaves them to the next). Too old (an hour) or
-- tried five times: dropped, a stale notification is worse than none.
create or replace function app.claim_push_deliveries(p_limit integer)
returns table (id bigint, subscription_id uuid, endpoint text, p256dh text, auth text, payload jsonb, urgency text)
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from private.push_deliveries d
   where d.created_at < now() - interval '1 hour' or d.attempts >= 5;
  return query
  with picked as (
    select d.id from private.push_deliveries d
     where d.claimed_at is null or d.claimed_at < now() - interval '2 minutes'
     order by d.id
     limit p_limit
       for update skip locked
  ), claimed as (
    update private.push_deliveries d set claimed_at = now(), attempts = d.attempts + 1
      from picked where d.id = picked.id
    returning d.id, d.subscription_id, d.payload, d.urgency
  )
  select c.id, c.subscription_id, s.endpoint, s.p256dh, s.auth, c.payload, c.urgency
    from claimed c join public.push_subscriptions s on s.id = c.subscription_id
   order by c.id;
end;
$$;

-- What came of a claimed batch: sent (done), to try again (retry), and the
-- subscriptions the push service no longer knows (gone, with their pushes).
create or replace function app.finish_push_deliveries(p_sent bigint[], p_retry bigint[], p_gone uuid[])
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.push_subscriptions s set last_sent_at = now()
   where s.id in (select d.subscription_id from private.push_deliveries d where d.id = any (p_sent));
  delete from private.push_deliveries d where d.id = any (p_sent);
  update private.push_deliveries d set claimed_at = null where d.id = any (p_retry);
  delete from public.push_subscriptions s where s.id = any (p_gone);
end;
$$;

revoke all on function app.claim_push_deliveries(integer), app.finish_push_deliveries(bigint[], bigint[], uuid[])
  from public;
grant execute on function app.claim_push_deliveries(integer), app.finish_push_deliveries(bigint[], bigint[], uuid[])
  to service_role;

-- -----------------------------------------------------------------------------
-- Chat: new_message (with the unread badge), video_call_incoming, medical_file_shared
-- -----------------------------------------------------------------------------

-- A user's unread messages in all their conversations: the chat's own rule
-- (app.chat_unread_count), for a given user.
create or replace function app.chat_unread_total(p_user uuid) returns integer
language sql stable
security definer
set search_path = ''
as $$
  select count(*)::integer
    from public.conversation_participants p
    join public.chat_messages m on m.conversation_id = p.conversation_id
   where p.user_id = p_user and p.left_at is null
     and m.sender_id <> p_user and m.deleted_at is null and m.created_at >= p.joined_at
     and not exists (select 1 from public.chat_message_reads r where r.message_id = m.id and r.user_id = p_user)
$$;

revoke all on function app.chat_unread_total(uuid) from public;

-- An event to the conversation's other participants who were in it at `p_at`
-- (joined before, not left), with, if asked, each one's unread badge.
create or replace function app.notify_chat_recipients(
  p_conversation_id uuid, p_sender uuid, p_at timestamptz, p_event text, p_payload jsonb,
  p_urgency text default 'normal', p_with_badge boolean default false
) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user uuid;
begin
  for v_user in
    select p.user_id from public.conversation_participants p
     where p.conversation_id = p_conversation_id and p.user_id <> p_sender
       and p.left_at is null and p.joined_at <= p_at
  loop
    perform app.notify_user(v_user, p_event, p_payload || case when p_with_badge
      then jsonb_build_object('badge', app.chat_unread_total(v_user)) else '{}'::jsonb end, p_urgency);
  end loop;
end;
$$;

revoke all on function app.notify_chat_recipients(uuid, uuid, timestamptz, text, jsonb, text, boolean) from public;

-- At commit (deferred), as the conversation's own new_message.
create or replace function app.notify_chat_message() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform app.notify_chat_recipients(new.conversation_id, new.sender_id, new.created_at, 'new_message',
    jsonb_build_object('conversationId', new.conversation_id, 'messageId', new.id, 'senderId', new.sender_id,
                       'messageType', new.message_type, 'createdAt', app.iso(new.created_at)),
    p_with_badge => true);
  return null;
end;
$$;

create constraint trigger chat_messages_notify
  after insert on public.chat_messages
  deferrable initially deferred
  for each row execute function app.notify_chat_message();

create or replace function app.notify_chat_video_call() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform app.notify_chat_recipients(new.conversation_id, new.started_by, new.started_at, 'video_call_incoming',
    jsonb_build_object('conversationId', new.conversation_id, 'callId', new.id, 'callerId', new.started_by,
                       'startedAt', app.iso(new.started_at)),
    'high');
  return null;
end;
$$;

create trigger chat_video_calls_notify
  after insert on public.chat_video_calls
  for each row execute function app.notify_chat_video_call();

create or replace function app.notify_chat_file_shared() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform app.notify_chat_recipients(new.conversation_id, new.uploaded_by, new.shared_at, 'medical_file_shared',
    jsonb_build_object('conversationId', new.conversation_id, 'messageId', new.message_id, 'fileId', new.id,
                       'sharedBy', new.uploaded_by, 'mimeType', new.mime_type, 'sharedAt', app.iso(new.shared_at)),
    'high');
  return null;
end;
$$;

create trigger chat_files_notify_shared
  after update of status on public.chat_files
  for each row when (new.status = 'shared' and old.status <> 'shared')
  execute function app.notify_chat_file_shared();

-- -----------------------------------------------------------------------------
-- Appointments (confirmed, cancelled) and consultations (opened, started, closed)
-- -----------------------------------------------------------------------------

create or replace function app.notify_appointment() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_event text := case new.status when 'CONFIRMED' then 'appointment_confirmed'
                                  when 'CANCELLED' then 'appointment_cancelled' end;
  v_payload jsonb;
begin
  if v_event is null then
    return null;
  end if;
  v_payload := jsonb_build_object(
    'appointmentId', new.id, 'status', new.status, 'patientId', new.patient_id, 'doctorId', new.doctor_id,
    'startsAt', app.iso(new.starts_at), 'endsAt', app.iso(new.ends_at), 'changedAt', app.iso(new.updated_at)
  );
  perform app.notify_user(new.patient_id, v_event, v_payload);
  perform app.notify_user(new.doctor_id, v_event, v_payload);
  return null;
end;
$$;

create trigger appointments_notify
  after update of status on public.appointments
  for each row when (new.status is distinct from old.status)
  execute function app.notify_appointment();

create or replace function app.notify_consultation() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_event text := case
    when tg_op = 'INSERT' then 'consultation_opened'
    when new.status = 'in_progress' then 'consultation_started'
    when new.status = 'closed' then 'consultation_closed' end;
  v_payload jsonb;
begin
  if v_event is null then
    return null;
  end if;
  v_payload := jsonb_build_object(
    'consultationId', new.id, 'appointmentId', new.appointment_id, 'status', new.status,
    'patientId', new.patient_id, 'doctorId', new.doctor_id, 'startedAt', app.iso(new.started_at),
    'closedAt', app.iso(new.closed_at), 'changedAt', app.iso(new.updated_at)
  );
  perform app.notify_user(new.patient_id, v_event, v_payload, case when v_event = 'consultation_started'
                                                                  then 'high' else 'normal' end);
  perform app.notify_user(new.doctor_id, v_event, v_payload);
  return null;
end;
$$;

create trigger consultations_notify_opened
  after insert on public.consultations
  for each row execute function app.notify_consultation();

create trigger consultations_notify_status
  after update of status on public.consultations
  for each row when (new.status is distinct from old.status)
  execute function app.notify_consultation();
