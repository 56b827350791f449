-- =============================================================================
-- Conversations (doctor-patient chat), and who may use their Realtime channel.
--
-- The chat module builds on these two tables; here they carry what the
-- private topic `conversation:{id}` needs: who takes part. A participant who
-- has left no longer joins; an admin never does (decision 5).
-- =============================================================================

create type public.conversation_type as enum ('direct', 'consultation', 'emergency', 'group');

create table public.conversations (
  id uuid primary key default gen_random_uuid(),
  type public.conversation_type not null default 'direct',
  consultation_id uuid references public.consultations (id),
  created_by uuid references public.users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.conversations is
  'A chat between a doctor and a patient (direct, linked to a consultation, or the 24/7 emergency '
  'channel), or among doctors (group). Its Realtime channel is conversation:{id}.';

create index conversations_consultation_idx on public.conversations (consultation_id);
create index conversations_created_by_idx on public.conversations (created_by);

create trigger conversations_set_updated_at
  before update on public.conversations
  for each row execute function app.set_updated_at();

create table public.conversation_participants (
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  user_id uuid not null references public.users (id),
  joined_at timestamptz not null default now(),
  left_at timestamptz,
  primary key (conversation_id, user_id)
);

comment on table public.conversation_participants is
  'Who takes part in a conversation. left_at set: they left it and no longer read or receive it.';

create index conversation_participants_user_idx on public.conversation_participants (user_id, conversation_id);

alter table public.conversations enable row level security;
alter table public.conversation_participants enable row level security;
revoke all on public.conversations, public.conversation_participants from anon;
revoke insert, update, delete on public.conversations, public.conversation_participants from authenticated;

-- Whether the caller takes part in the conversation `p_id` and has not left it.
create or replace function app.takes_part_in_conversation(p_id uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.conversation_participants p
     where p.conversation_id = p_id and p.user_id = auth.uid() and p.left_at is null
  )
$$;

revoke all on function app.takes_part_in_conversation(uuid) from public;
grant execute on function app.takes_part_in_conversation(uuid) to authenticated;

create policy "Participants can read their conversations"
  on public.conversations for select to authenticated
  using ((select app.takes_part_in_conversation(id)));

create policy "Participants can read who takes part"
  on public.conversation_participants for select to authenticated
  using ((select app.takes_part_in_conversation(conversation_id)));

create policy "Conversation participants can receive on its channel"
  on realtime.messages for select to authenticated
  using (
    extension in ('broadcast', 'presence')
    and (select app.takes_part_in_conversation(app.topic_id(realtime.topic(), 'conversation')))
  );

create policy "Conversation participants can send on its channel"
  on realtime.messages for insert to authenticated
  with check (
    extension in ('broadcast', 'presence')
    and (select app.takes_part_in_conversation(app.topic_id(realtime.topic(), 'conversation')))
  );

revoke truncate, trigger, references on all tables in schema public from anon, authenticated;
