-- =============================================================================
-- WhatsApp assistant for doctors (issue #9): the WhatsApp message log, one AI
-- conversation per doctor with its messages, the assistant's own sessions,
-- and appointment reminders.
--
-- A doctor writes to the clinic's WhatsApp number; the webhook stores the
-- message (once per Twilio MessageSid) before anything is called, and the
-- assistant answers through the Messages API. The assistant's tools run as
-- that doctor under row-level security, in a session of its own
-- (private.sessions with purpose 'assistant_run'), so the database decides
-- what it may see exactly as for the doctor's own requests.
--
-- Who reads what (decision 5): a doctor reads their own AI conversation and
-- its messages; the sender of a WhatsApp message (through the API) reads it;
-- an admin reads no conversation text. The webhook, the status callback and
-- the reminders write through the privileged path.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Assistant sessions: a short-lived session per assistant run, opened by the
-- privileged path once the sender's phone is resolved to a doctor (a webhook
-- carries no token), and ended when the run is over.
-- -----------------------------------------------------------------------------

alter table private.sessions
  add column purpose text not null default 'access_token'
    constraint sessions_purpose_check check (purpose in ('access_token', 'assistant_run'));

alter table private.sessions drop constraint sessions_revoked_reason_check;
alter table private.sessions add constraint sessions_revoked_reason_check check (
  revoked_reason in ('logout', 'password_reset', 'admin', 'deactivated', 'role_changed', 'deleted', 'run_ended')
);

comment on column private.sessions.purpose is
  'access_token: a token issued at login. assistant_run: the WhatsApp assistant acting for a doctor, '
  'for a few minutes, without a token ever leaving the server.';

-- -----------------------------------------------------------------------------
-- WhatsApp messages
-- -----------------------------------------------------------------------------

create table public.whatsapp_messages (
  id uuid primary key default gen_random_uuid(),
  message_sid text not null unique,
  direction text not null constraint whatsapp_messages_direction_check
    check (direction in ('inbound', 'outbound')),
  purpose text not null constraint whatsapp_messages_purpose_check
    check (purpose in ('assistant', 'reminder', 'reminder_reply', 'manual', 'unknown_sender', 'ignored')),
  user_id uuid references public.users (id),
  sent_by uuid references public.users (id),
  from_phone text not null,
  to_phone text not null,
  body text not null,
  status text not null,
  error_code text,
  error_message text,
  processed_at timestamptz,
  date_sent timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.whatsapp_messages is
  'Every WhatsApp message received (by Twilio''s MessageSid: a retry is stored once) or sent. '
  'user_id: the clinic user at the other end, if known; sent_by: who sent it through the API. '
  'An inbound message is stored before any call out; processed_at is set once it was answered.';

create index whatsapp_messages_sent_by_idx on public.whatsapp_messages (sent_by, created_at);
create index whatsapp_messages_user_idx on public.whatsapp_messages (user_id, created_at);
create index whatsapp_messages_unprocessed_idx on public.whatsapp_messages (created_at)
  where direction = 'inbound' and processed_at is null;

create trigger whatsapp_messages_set_updated_at
  before update on public.whatsapp_messages
  for each row execute function app.set_updated_at();

alter table public.whatsapp_messages enable row level security;
revoke all on public.whatsapp_messages from anon;
revoke update, delete on public.whatsapp_messages from authenticated;

create policy "Senders can read the WhatsApp messages they sent"
  on public.whatsapp_messages for select to authenticated
  using (sent_by = (select auth.uid()));

create policy "Admins and doctors can record the WhatsApp messages they send"
  on public.whatsapp_messages for insert to authenticated
  with check (
    sent_by = (select auth.uid())
    and direction = 'outbound'
    and purpose = 'manual'
    and (select app.user_role()) in ('admin', 'doctor')
  );

-- Twilio may report a status before the message it belongs to is recorded
-- (the callback can overtake the answer to the create call): it waits here
-- until the message is recorded.
create table private.whatsapp_early_statuses (
  message_sid text primary key,
  status text not null,
  error_code text,
  error_message text,
  received_at timestamptz not null default now()
);

comment on table private.whatsapp_early_statuses is
  'Status callbacks that arrived before their outbound message was recorded; applied when it is.';

alter table private.whatsapp_early_statuses enable row level security;
revoke all on private.whatsapp_early_statuses from anon, authenticated;
grant select, insert, update, delete on private.whatsapp_early_statuses to service_role;

create or replace function private.apply_early_whatsapp_status() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_order constant text[] := array['accepted', 'queued', 'sending', 'sent', 'delivered', 'read'];
  v_early private.whatsapp_early_statuses;
begin
  delete from private.whatsapp_early_statuses where message_sid = new.message_sid returning * into v_early;
  if found and (v_early.status in ('failed', 'undelivered')
                or array_position(v_order, v_early.status) >= coalesce(array_position(v_order, new.status), 0)) then
    new.status := v_early.status;
    new.error_code := v_early.error_code;
    new.error_message := v_early.error_message;
    if v_early.status in ('sent', 'delivered', 'read') then
      new.date_sent := coalesce(new.date_sent, v_early.received_at);
    end if;
  end if;
  return new;
end;
$$;

revoke all on function private.apply_early_whatsapp_status() from public;

create trigger whatsapp_messages_apply_early_status
  before insert on public.whatsapp_messages
  for each row when (new.direction = 'outbound')
  execute function private.apply_early_whatsapp_status();

-- -----------------------------------------------------------------------------
-- AI conversations: one per doctor, with a rolling summary
-- -----------------------------------------------------------------------------

create table public.ai_conversations (
  id uuid primary key default gen_random_uuid(),
  doctor_id uuid not null unique references public.users (id),
  model text not null,
  system_prompt text not null,
  summary text,
  summarized_until timestamptz,
  pending_action jsonb,
  last_activity_at timestamptz not null default now(),
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.ai_conversations is
  'The WhatsApp assistant''s conversation with a doctor (one per doctor). The model sees the system '
  'prompt, the summary of the messages up to summarized_until and the messages after it, so the '
  'context stays bounded. pending_action: a change (cancel or confirm an appointment) the assistant '
  'proposed, carried out only if the doctor''s next message is an explicit yes.';

create trigger ai_conversations_set_updated_at
  before update on public.ai_conversations
  for each row execute function app.set_updated_at();

alter table public.ai_conversations enable row level security;
revoke all on public.ai_conversations from anon;
revoke insert, delete on public.ai_conversations from authenticated;
revoke update on public.ai_conversations from authenticated;
grant update (summary, summarized_until, pending_action, last_activity_at)
  on public.ai_conversations to authenticated;

create policy "Doctors can read their own AI conversation"
  on public.ai_conversations for select to authenticated
  using (doctor_id = (select auth.uid()));

create policy "Doctors can update their own AI conversation"
  on public.ai_conversations for update to authenticated
  using (doctor_id = (select auth.uid()))
  with check (doctor_id = (select auth.uid()));

create or replace function app.owns_ai_conversation(p_id uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.ai_conversations c where c.id = p_id and c.doctor_id = auth.uid()
  )
$$;

revoke all on function app.owns_ai_conversation(uuid) from public;
grant execute on function app.owns_ai_conversation(uuid) to authenticated, service_role;

-- The caller's conversation (a doctor's), created on first use: answers its id.
create or replace function app.ensure_ai_conversation(p_model text, p_system_prompt text) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id uuid;
begin
  if app.user_role() is distinct from 'doctor' then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'El asistente de WhatsApp es para médicos';
  end if;
  insert into public.ai_conversations (doctor_id, model, system_prompt)
  values (auth.uid(), p_model, p_system_prompt)
  on conflict (doctor_id) do update set is_active = true
  returning id into v_id;
  return v_id;
end;
$$;

revoke all on function app.ensure_ai_conversation(text, text) from public;
grant execute on function app.ensure_ai_conversation(text, text) to authenticated;

create table public.ai_messages (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references public.ai_conversations (id) on delete cascade,
  role text not null constraint ai_messages_role_check check (role in ('user', 'assistant')),
  content text not null constraint ai_messages_content_check check (char_length(content) between 1 and 8000),
  token_count integer not null default 0 check (token_count >= 0),
  whatsapp_message_id uuid unique references public.whatsapp_messages (id),
  read_at timestamptz,
  created_at timestamptz not null default clock_timestamp(),
  updated_at timestamptz not null default now()
);

comment on table public.ai_messages is
  'The messages of an AI conversation: the doctor''s (user) and the assistant''s. token_count: the '
  'model''s count for an answer, an estimate (4 characters a token) for the doctor''s text.';

create index ai_messages_conversation_idx on public.ai_messages (conversation_id, created_at, id);

create trigger ai_messages_set_updated_at
  before update on public.ai_messages
  for each row execute function app.set_updated_at();

alter table public.ai_messages enable row level security;
revoke all on public.ai_messages from anon;
revoke delete on public.ai_messages from authenticated;
revoke update on public.ai_messages from authenticated;
grant update (read_at) on public.ai_messages to authenticated;

create policy "Doctors can read the messages of their own AI conversation"
  on public.ai_messages for select to authenticated
  using ((select app.owns_ai_conversation(conversation_id)));

create policy "Doctors can add messages to their own AI conversation"
  on public.ai_messages for insert to authenticated
  with check ((select app.owns_ai_conversation(conversation_id)));

create policy "Doctors can mark the messages of their own AI conversation read"
  on public.ai_messages for update to authenticated
  using ((select app.owns_ai_conversation(conversation_id)))
  with check ((select app.owns_ai_conversation(conversation_id)));

-- A message in a conversation is activity.
create or replace function app.touch_ai_conversation() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.ai_conversations set last_activity_at = new.created_at where id = new.conversation_id;
  return new;
end;
$$;

create trigger ai_messages_touch_conversation
  after insert on public.ai_messages
  for each row execute function app.touch_ai_conversation();

-- -----------------------------------------------------------------------------
-- Appointment reminders
-- -----------------------------------------------------------------------------

create table public.appointment_reminders (
  appointment_id uuid not null references public.appointments (id),
  kind text not null constraint appointment_reminders_kind_check check (kind in ('24h', '1h')),
  patient_id uuid not null references public.users (id),
  whatsapp_message_id uuid references public.whatsapp_messages (id),
  sent_at timestamptz not null default now(),
  reply text constraint appointment_reminders_reply_check check (reply in ('confirmed', 'cancelled')),
  replied_at timestamptz,
  primary key (appointment_id, kind)
);

comment on table public.appointment_reminders is
  'The WhatsApp reminders sent to a patient before an appointment (24 h and 1 h before), one of each '
  'kind: a rerun of the reminders never sends twice. reply: the patient''s answer (1 confirms, 2 cancels).';

create index appointment_reminders_patient_idx on public.appointment_reminders (patient_id, sent_at);

alter table public.appointment_reminders enable row level security;
revoke all on public.appointment_reminders from anon;
revoke insert, update, delete on public.appointment_reminders from authenticated;

create policy "Patients can read their own reminders"
  on public.appointment_reminders for select to authenticated
  using (patient_id = (select auth.uid()));

revoke truncate, trigger, references on all tables in schema public from anon, authenticated;
