-- =============================================================================
-- Doctor-patient chat: conversations, messages (edits, soft deletes, read
-- receipts), files, blocks, reports and video calls from a chat.
--
-- Builds on public.conversations and public.conversation_participants
-- (20261123000300). Every rule is the database's:
--   - who may start a conversation with whom (app.create_chat_conversation);
--   - chat hours, 08:00-22:00 in the clinic's time zone, except emergency
--     conversations; blocks; the rate limits (20 messages a minute, 10 files
--     an hour, 5 video calls a day), counted from the rows themselves so they
--     hold across every instance of the function;
--   - retention: messages are never deleted. A soft delete empties the
--     message for everyone; its text and its edit history stay in
--     private.chat_message_versions, which no API role reads.
--
-- Who reads what (decision 5): the participants who have not left read the
-- conversation, its messages, receipts, files and calls. An admin takes part
-- in no conversation: they read a conversation's metadata through
-- app.chat_conversation_states() and the reported messages' text through
-- app.chat_reports(), never any other text or file.
--
-- Events on the private topic `conversation:{id}` are sent by triggers with
-- realtime.send(), in the transaction of the change: delivered if and only if
-- it commits.
--
-- 'now' is app.chat_now(): the transaction's time, unless the API's test-only
-- clock (Deps.clock, which only tests set) fixed consultorio.test_now for the
-- transaction.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Helpers
-- -----------------------------------------------------------------------------

create or replace function app.chat_now() returns timestamptz
language sql stable
set search_path = ''
as $$
  select coalesce(nullif(current_setting('consultorio.test_now', true), '')::timestamptz, now())
$$;

grant execute on function app.chat_now() to authenticated;

-- A person as a chat shows them.
create or replace function app.chat_person_json(p_user_id uuid) returns jsonb
language sql stable
security definer
set search_path = ''
as $$
  select jsonb_build_object('id', u.id, 'fullName', u.name || ' ' || u.last_name, 'userType', u.role)
    from public.users u where u.id = p_user_id
$$;

revoke all on function app.chat_person_json(uuid) from public;
grant execute on function app.chat_person_json(uuid) to authenticated;

-- Raises CHAT_002 outside 08:00-22:00 in the clinic's time zone.
create or replace function app.require_chat_hours(p_conversation_type public.conversation_type) returns void
language plpgsql stable
security definer
set search_path = ''
as $$
declare
  v_local time := (app.chat_now() at time zone app.clinic_time_zone())::time;
begin
  if p_conversation_type <> 'emergency' and not (v_local >= time '08:00' and v_local < time '22:00') then
    raise exception using errcode = 'P0001', message = 'CHAT_002',
      detail = format(
        'Los chats médicos están disponibles de 08:00 a 22:00 (hora de la clínica, ahora %s); '
        'para una urgencia use una conversación de emergencia', to_char(v_local, 'HH24:MI')
      );
  end if;
end;
$$;

-- Raises RATE_001 (hint: the seconds until the window lets one more in) when
-- `p_times` (the caller's recent actions) already holds p_max in p_window.
create or replace function app.require_chat_rate(
  p_times timestamptz[], p_window interval, p_max integer, p_what text
) returns void
language plpgsql stable
set search_path = ''
as $$
declare
  v_now timestamptz := app.chat_now();
  v_recent timestamptz[];
begin
  select coalesce(array_agg(t order by t desc), '{}') into v_recent
    from unnest(p_times) t where t > v_now - p_window;
  if cardinality(v_recent) >= p_max then
    raise exception using errcode = 'P0001', message = 'RATE_001',
      detail = format('Límite de %s %s alcanzado', p_max, p_what),
      hint = greatest(1, ceil(extract(epoch from (v_recent[p_max] + p_window - v_now))))::integer::text;
  end if;
end;
$$;

-- A doctor who has (or had) an appointment or a consultation with the patient.
create or replace function app.chat_care_relationship(p_doctor_id uuid, p_patient_id uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.appointments a where a.doctor_id = p_doctor_id and a.patient_id = p_patient_id
  ) or exists (
    select 1 from public.consultations c where c.doctor_id = p_doctor_id and c.patient_id = p_patient_id
  )
$$;

revoke all on function app.require_chat_hours(public.conversation_type),
  app.require_chat_rate(timestamptz[], interval, integer, text), app.chat_care_relationship(uuid, uuid) from public;

-- -----------------------------------------------------------------------------
-- Conversations: title, activity and each participant's settings
-- -----------------------------------------------------------------------------

alter table public.conversations
  add column title text,
  add column description text,
  add column last_activity_at timestamptz not null default now(),
  add constraint conversations_title_check check (char_length(title) between 1 and 200),
  add constraint conversations_description_check check (char_length(description) <= 1000);

comment on column public.conversations.last_activity_at is
  'Its creation, then its last message: the order of a conversation list.';

create index conversations_activity_idx on public.conversations (last_activity_at desc, id desc);

alter table public.conversation_participants
  add column muted boolean not null default false,
  add column archived boolean not null default false,
  add column pinned boolean not null default false;

comment on column public.conversation_participants.muted is
  'The participant''s own settings (muted, archived, pinned): nobody else''s.';

-- A participant changes their own settings, or leaves (left_at), while they take part.
grant update (muted, archived, pinned, left_at) on public.conversation_participants to authenticated;

create policy "Participants can change their own settings or leave"
  on public.conversation_participants for update to authenticated
  using (user_id = (select auth.uid()) and left_at is null)
  with check (user_id = (select auth.uid()));

create or replace function app.check_conversation_participant() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.conversation_id <> old.conversation_id or new.user_id <> old.user_id
     or new.joined_at <> old.joined_at then
    raise exception using errcode = 'P0001', message = 'VAL_001',
      detail = 'Solo cambian los ajustes del participante';
  end if;
  if old.left_at is not null then
    new.left_at := old.left_at;
  elsif new.left_at is not null then
    new.left_at := app.chat_now();
  end if;
  return new;
end;
$$;

create trigger conversation_participants_check
  before update on public.conversation_participants
  for each row execute function app.check_conversation_participant();

-- Starts a conversation (or answers the open one of the same pair and type).
--   direct, emergency: the caller and one other person: a patient with a
--     doctor who treated them or has an appointment with them, or a doctor
--     with such a patient (CHAT_001 otherwise);
--   consultation: the doctor and the patient of that consultation;
--   group: doctors only (a medical team).
-- Nobody starts a conversation with someone who blocked them or whom they blocked (CHAT_003).
create or replace function app.create_chat_conversation(
  p_type public.conversation_type, p_participant_ids uuid[], p_title text, p_description text,
  p_consultation_id uuid
)
returns table (id uuid, created boolean)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me uuid := auth.uid();
  v_role public.app_role := app.user_role();
  v_others uuid[];
  v_other public.users;
  v_id uuid;
  v_consultation public.consultations;
begin
  if v_role is null or v_role = 'admin' then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'Un administrador no participa en conversaciones';
  end if;
  select coalesce(array_agg(distinct x), '{}') into v_others
    from unnest(p_participant_ids) x where x <> v_me;
  if cardinality(v_others) = 0 then
    raise exception using errcode = 'P0001', message = 'VAL_001',
      detail = 'Indique con quién es la conversación', hint = 'participants';
  end if;

  for v_other in select * from public.users u where u.id = any (v_others) loop
    if not v_other.is_active or v_other.deleted_at is not null then
      raise exception using errcode = 'P0001', message = 'CHAT_001',
        detail = 'No puede iniciar una conversación con este usuario', hint = 'participants';
    end if;
    if app.chat_blocked_between(v_me, v_other.id) then
      raise exception using errcode = 'P0001', message = 'CHAT_003',
        detail = 'No puede iniciar una conversación con este usuario: hay un bloqueo', hint = 'participants';
    end if;
  end loop;
  if (select count(*) from public.users u where u.id = any (v_others)) <> cardinality(v_others) then
    raise exception using errcode = 'P0001', message = 'RES_001',
      detail = 'Usuario no encontrado', hint = 'participants';
  end if;

  if p_type = 'group' then
    if v_role <> 'doctor' or exists (
      select 1 from public.users u where u.id = any (v_others) and u.role <> 'doctor'
    ) then
      raise exception using errcode = 'P0001', message = 'CHAT_001',
        detail = 'Las conversaciones de grupo son para equipos médicos: solo médicos', hint = 'participants';
    end if;
  else
    if cardinality(v_others) <> 1 then
      raise exception using errcode = 'P0001', message = 'VAL_001',
        detail = 'Una conversación que no es de grupo es entre dos personas', hint = 'participants';
    end if;
    select * into v_other from public.users u where u.id = v_others[1];
    if not (
      (v_role = 'patient' and v_other.role = 'doctor' and app.chat_care_relationship(v_other.id, v_me))
      or (v_role = 'doctor' and v_other.role = 'patient' and app.chat_care_relationship(v_me, v_other.id))
    ) then
      raise exception using errcode = 'P0001', message = 'CHAT_001',
        detail = 'No puede iniciar una conversación con este usuario: debe tener una cita programada o histórica',
        hint = 'participants';
    end if;
  end if;

  if p_type = 'consultation' then
    if p_consultation_id is null then
      raise exception using errcode = 'P0001', message = 'VAL_001',
        detail = 'Una conversación de consulta indica su consulta', hint = 'consultationId';
    end if;
    select * into v_consultation from public.consultations c where c.id = p_consultation_id;
    if not found or not (
      (v_consultation.doctor_id = v_me and v_consultation.patient_id = v_others[1])
      or (v_consultation.patient_id = v_me and v_consultation.doctor_id = v_others[1])
    ) then
      raise exception using errcode = 'P0001', message = 'RES_001',
        detail = 'Consulta no encontrada', hint = 'consultationId';
    end if;
    if v_consultation.status = 'closed' then
      raise exception using errcode = 'P0001', message = 'CON_001',
        detail = 'La consulta está cerrada', hint = 'consultationId';
    end if;
  elsif p_consultation_id is not null then
    raise exception using errcode = 'P0001', message = 'VAL_001',
      detail = 'Solo una conversación de consulta tiene consultationId', hint = 'consultationId';
  end if;

  -- The pair's open conversation of this type (of this consultation), if there is one.
  if p_type <> 'group' then
    perform pg_advisory_xact_lock(hashtextextended(
      'chat-pair:' || p_type::text || ':' || least(v_me, v_others[1])::text || greatest(v_me, v_others[1])::text, 0
    ));
    select c.id into v_id
      from public.conversations c
     where c.type = p_type and c.consultation_id is not distinct from p_consultation_id
       and exists (select 1 from public.conversation_participants p
                    where p.conversation_id = c.id and p.user_id = v_me and p.left_at is null)
       and exists (select 1 from public.conversation_participants p
                    where p.conversation_id = c.id and p.user_id = v_others[1] and p.left_at is null)
     order by c.created_at
     limit 1;
    if v_id is not null then
      return query select v_id, false;
      return;
    end if;
  end if;

  insert into public.conversations (type, consultation_id, created_by, title, description, last_activity_at)
  values (p_type, p_consultation_id, v_me, p_title, p_description, app.chat_now())
  returning conversations.id into v_id;
  insert into public.conversation_participants (conversation_id, user_id, joined_at)
  select v_id, x, app.chat_now() from unnest(array_prepend(v_me, v_others)) x;
  return query select v_id, true;
end;
$$;

revoke all on function app.create_chat_conversation(public.conversation_type, uuid[], text, text, uuid) from public;
grant execute on function app.create_chat_conversation(public.conversation_type, uuid[], text, text, uuid)
  to authenticated;

-- -----------------------------------------------------------------------------
-- Blocks
-- -----------------------------------------------------------------------------

create table public.chat_blocks (
  blocker_id uuid not null references public.users (id),
  blocked_id uuid not null references public.users (id),
  created_at timestamptz not null default now(),
  primary key (blocker_id, blocked_id),
  constraint chat_blocks_not_self_check check (blocker_id <> blocked_id)
);

comment on table public.chat_blocks is
  'Who blocked whom in the chat. Neither may message the other nor start a conversation with them. '
  'Nobody blocks an admin.';

create index chat_blocks_blocked_idx on public.chat_blocks (blocked_id, blocker_id);

alter table public.chat_blocks enable row level security;
revoke all on public.chat_blocks from anon;
revoke update on public.chat_blocks from authenticated;

create policy "Users can read whom they blocked"
  on public.chat_blocks for select to authenticated
  using (blocker_id = (select auth.uid()));

create policy "Users can block others"
  on public.chat_blocks for insert to authenticated
  with check (blocker_id = (select auth.uid()));

create policy "Users can unblock whom they blocked"
  on public.chat_blocks for delete to authenticated
  using (blocker_id = (select auth.uid()));

-- Whether one of the two has blocked the other.
create or replace function app.chat_blocked_between(p_a uuid, p_b uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.chat_blocks b
     where (b.blocker_id = p_a and b.blocked_id = p_b) or (b.blocker_id = p_b and b.blocked_id = p_a)
  )
$$;

revoke all on function app.chat_blocked_between(uuid, uuid) from public;

create or replace function app.check_chat_block() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_role public.app_role;
begin
  if new.blocker_id = new.blocked_id then
    raise exception using errcode = 'P0001', message = 'VAL_001',
      detail = 'No puede bloquearse a sí mismo', hint = 'userId';
  end if;
  select u.role into v_role from public.users u where u.id = new.blocked_id and u.deleted_at is null;
  if not found then
    raise exception using errcode = 'P0001', message = 'RES_001', detail = 'Usuario no encontrado', hint = 'userId';
  end if;
  if v_role = 'admin' then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'No se puede bloquear a un administrador', hint = 'userId';
  end if;
  new.created_at := app.chat_now();
  return new;
end;
$$;

create trigger chat_blocks_check
  before insert on public.chat_blocks
  for each row execute function app.check_chat_block();

-- -----------------------------------------------------------------------------
-- Messages
-- -----------------------------------------------------------------------------

create type public.chat_message_type as enum ('text', 'file');

create table public.chat_messages (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references public.conversations (id),
  sender_id uuid not null references public.users (id),
  message_type public.chat_message_type not null default 'text',
  body text,
  reply_to_id uuid references public.chat_messages (id),
  client_msg_id text,
  created_at timestamptz not null default now(),
  edited_at timestamptz,
  deleted_at timestamptz,
  search_vector tsvector generated always as (to_tsvector('spanish'::regconfig, coalesce(body, ''))) stored,
  constraint chat_messages_client_msg_id_key unique (conversation_id, sender_id, client_msg_id),
  constraint chat_messages_body_check check (char_length(body) between 1 and 5000),
  constraint chat_messages_client_msg_id_check check (char_length(client_msg_id) between 1 and 100),
  constraint chat_messages_content_check check (
    deleted_at is not null or message_type = 'file' or body is not null
  ),
  constraint chat_messages_tombstone_check check (deleted_at is null or body is null)
);

comment on table public.chat_messages is
  'A conversation''s messages: text, or files with an optional caption. Never deleted: a soft delete '
  '(deleted_at) leaves a tombstone without content; the text is kept in private.chat_message_versions. '
  'A sender''s client_msg_id makes a retried send return the original message.';

create index chat_messages_conversation_idx on public.chat_messages (conversation_id, created_at desc, id desc);
create index chat_messages_sender_idx on public.chat_messages (sender_id, created_at);
create index chat_messages_reply_to_idx on public.chat_messages (reply_to_id);
create index chat_messages_search_idx on public.chat_messages using gin (search_vector);

alter table public.chat_messages enable row level security;
revoke all on public.chat_messages from anon;
revoke update, delete on public.chat_messages from authenticated;
grant update (body, deleted_at) on public.chat_messages to authenticated;

create policy "Participants can read their conversations' messages"
  on public.chat_messages for select to authenticated
  using ((select app.takes_part_in_conversation(conversation_id)));

create policy "Participants can send messages as themselves"
  on public.chat_messages for insert to authenticated
  with check (
    sender_id = (select auth.uid())
    and (select app.takes_part_in_conversation(conversation_id))
  );

create policy "Senders can edit or delete their own messages"
  on public.chat_messages for update to authenticated
  using (sender_id = (select auth.uid()) and (select app.takes_part_in_conversation(conversation_id)))
  with check (sender_id = (select auth.uid()));

-- Earlier texts of edited messages, and the text of deleted ones: kept for
-- retention, read by nobody but the message's JSON (the edit history of a
-- message that is not deleted) and the privileged path.
create table private.chat_message_versions (
  id uuid primary key default gen_random_uuid(),
  message_id uuid not null references public.chat_messages (id),
  body text,
  reason text not null check (reason in ('edited', 'deleted')),
  replaced_at timestamptz not null
);

comment on table private.chat_message_versions is
  'A message''s text before each edit, and at its deletion. Retention only: no API role reads it.';

create index chat_message_versions_message_idx on private.chat_message_versions (message_id, replaced_at);

alter table private.chat_message_versions enable row level security;
grant select on private.chat_message_versions to service_role;

create or replace function app.check_chat_message() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_now timestamptz := app.chat_now();
  v_type public.conversation_type;
  v_times timestamptz[];
begin
  if tg_op = 'INSERT' then
    select c.type into v_type from public.conversations c where c.id = new.conversation_id;
    perform app.require_chat_hours(v_type);
    if exists (
      select 1 from public.conversation_participants p
       where p.conversation_id = new.conversation_id and p.user_id <> new.sender_id and p.left_at is null
         and app.chat_blocked_between(new.sender_id, p.user_id)
    ) then
      raise exception using errcode = 'P0001', message = 'CHAT_003',
        detail = 'No puede enviar mensajes en esta conversación: hay un bloqueo';
    end if;
    if new.reply_to_id is not null and not exists (
      select 1 from public.chat_messages r where r.id = new.reply_to_id and r.conversation_id = new.conversation_id
    ) then
      raise exception using errcode = 'P0001', message = 'VAL_001',
        detail = 'El mensaje respondido no está en esta conversación', hint = 'replyToId';
    end if;
    -- One sender at a time, so that concurrent sends count each other.
    perform pg_advisory_xact_lock(hashtextextended('chat-messages:' || new.sender_id::text, 0));
    select coalesce(array_agg(m.created_at), '{}') into v_times
      from public.chat_messages m
     where m.sender_id = new.sender_id and m.created_at > v_now - interval '1 minute';
    perform app.require_chat_rate(v_times, interval '1 minute', 20, 'mensajes por minuto');
    new.created_at := v_now;
    new.edited_at := null;
    new.deleted_at := null;
    return new;
  end if;

  if new.conversation_id <> old.conversation_id or new.sender_id <> old.sender_id
     or new.message_type <> old.message_type or new.reply_to_id is distinct from old.reply_to_id
     or new.client_msg_id is distinct from old.client_msg_id or new.created_at <> old.created_at then
    raise exception using errcode = 'P0001', message = 'VAL_001',
      detail = 'Solo cambia el texto de un mensaje, o se elimina';
  end if;
  if old.deleted_at is not null then
    raise exception using errcode = 'P0001', message = 'CHAT_004', detail = 'El mensaje fue eliminado';
  end if;
  if new.deleted_at is not null then
    insert into private.chat_message_versions (message_id, body, reason, replaced_at)
    values (old.id, old.body, 'deleted', v_now);
    new.body := null;
    new.deleted_at := v_now;
    new.edited_at := old.edited_at;
  elsif new.body is distinct from old.body then
    if new.body is null then
      raise exception using errcode = 'P0001', message = 'VAL_001',
        detail = 'El mensaje no puede quedar vacío', hint = 'content';
    end if;
    insert into private.chat_message_versions (message_id, body, reason, replaced_at)
    values (old.id, old.body, 'edited', v_now);
    new.edited_at := v_now;
  else
    new.edited_at := old.edited_at;
  end if;
  return new;
end;
$$;

create trigger chat_messages_check
  before insert or update on public.chat_messages
  for each row execute function app.check_chat_message();

create or replace function app.touch_conversation() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.conversations c set last_activity_at = greatest(c.last_activity_at, new.created_at)
   where c.id = new.conversation_id;
  return null;
end;
$$;

create trigger chat_messages_touch_conversation
  after insert on public.chat_messages
  for each row execute function app.touch_conversation();

-- -----------------------------------------------------------------------------
-- Read receipts
-- -----------------------------------------------------------------------------

create table public.chat_message_reads (
  message_id uuid not null references public.chat_messages (id),
  user_id uuid not null references public.users (id),
  conversation_id uuid not null references public.conversations (id),
  read_at timestamptz not null default now(),
  primary key (message_id, user_id)
);

comment on table public.chat_message_reads is
  'Read receipts: who read which message of their conversation, and when. Written by app.mark_chat_read().';

create index chat_message_reads_user_idx on public.chat_message_reads (user_id, conversation_id);
create index chat_message_reads_conversation_idx on public.chat_message_reads (conversation_id);

alter table public.chat_message_reads enable row level security;
revoke all on public.chat_message_reads from anon;
revoke insert, update, delete on public.chat_message_reads from authenticated;

create policy "Participants can read their conversations' receipts"
  on public.chat_message_reads for select to authenticated
  using ((select app.takes_part_in_conversation(conversation_id)));

-- Marks the message `p_message_id` read by the caller, with every earlier
-- message of the others in its conversation. Answers the receipt.
create or replace function app.mark_chat_read(p_message_id uuid)
returns table (message_id uuid, read_at timestamptz)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v public.chat_messages;
  v_now timestamptz := app.chat_now();
begin
  select * into v from public.chat_messages m where m.id = p_message_id;
  if not found or not app.takes_part_in_conversation(v.conversation_id) then
    raise exception using errcode = 'P0001', message = 'RES_001', detail = 'Mensaje no encontrado';
  end if;
  if v.sender_id = auth.uid() then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'Solo los destinatarios marcan un mensaje como leído';
  end if;
  insert into public.chat_message_reads (message_id, user_id, conversation_id, read_at)
  select m.id, auth.uid(), m.conversation_id, v_now
    from public.chat_messages m
   where m.conversation_id = v.conversation_id and m.sender_id <> auth.uid()
     and (m.created_at, m.id) <= (v.created_at, v.id)
     and not exists (select 1 from public.chat_message_reads r where r.message_id = m.id and r.user_id = auth.uid())
  on conflict do nothing;
  return query select r.message_id, r.read_at from public.chat_message_reads r
                where r.message_id = p_message_id and r.user_id = auth.uid();
end;
$$;

revoke all on function app.mark_chat_read(uuid) from public;
grant execute on function app.mark_chat_read(uuid) to authenticated;

-- message_read, once per reader and statement, for the latest message read.
create or replace function app.broadcast_chat_reads() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v record;
begin
  for v in
    select r.conversation_id, r.user_id, max(r.read_at) as read_at,
           (array_agg(r.message_id order by m.created_at desc, m.id desc))[1] as message_id,
           array_agg(r.message_id order by m.created_at, m.id) as message_ids
      from inserted r join public.chat_messages m on m.id = r.message_id
     group by r.conversation_id, r.user_id
  loop
    perform realtime.send(
      jsonb_build_object('conversationId', v.conversation_id, 'messageId', v.message_id,
                         'messageIds', to_jsonb(v.message_ids), 'readBy', v.user_id, 'readAt', app.iso(v.read_at)),
      'message_read',
      'conversation:' || v.conversation_id::text,
      true
    );
  end loop;
  return null;
end;
$$;

create trigger chat_message_reads_broadcast
  after insert on public.chat_message_reads
  referencing new table as inserted
  for each statement execute function app.broadcast_chat_reads();

-- The caller's unread messages in a conversation they take part in.
create or replace function app.chat_unread_count(p_conversation_id uuid) returns integer
language sql stable
security definer
set search_path = ''
as $$
  select count(*)::integer
    from public.conversation_participants p
    join public.chat_messages m on m.conversation_id = p.conversation_id
   where p.conversation_id = p_conversation_id and p.user_id = auth.uid() and p.left_at is null
     and m.sender_id <> auth.uid() and m.deleted_at is null and m.created_at >= p.joined_at
     and not exists (select 1 from public.chat_message_reads r where r.message_id = m.id and r.user_id = auth.uid())
$$;

revoke all on function app.chat_unread_count(uuid) from public;
grant execute on function app.chat_unread_count(uuid) to authenticated;

-- -----------------------------------------------------------------------------
-- Files
-- -----------------------------------------------------------------------------

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values (
  'chat-files',
  'chat-files',
  false,
  10485760,
  array[
    'application/pdf', 'image/jpeg', 'image/png', 'application/msword',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'audio/mpeg', 'video/mp4'
  ]
)
on conflict (id) do update set
  file_size_limit = excluded.file_size_limit,
  allowed_mime_types = excluded.allowed_mime_types;

create policy "Conversation participants can read its files"
  on storage.objects for select to authenticated
  using (
    bucket_id = 'chat-files'
    and (select app.takes_part_in_conversation(app.topic_id('c:' || (storage.foldername(name))[1], 'c')))
  );

create table public.chat_files (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references public.conversations (id),
  uploaded_by uuid not null references public.users (id),
  message_id uuid references public.chat_messages (id),
  filename text not null,
  mime_type text not null,
  size_bytes bigint not null,
  sha256 text,
  status text not null default 'pending',
  created_at timestamptz not null default now(),
  shared_at timestamptz,
  constraint chat_files_filename_check check (char_length(filename) between 1 and 200 and filename !~ '[/\\]'),
  constraint chat_files_size_bytes_check check (size_bytes > 0),
  constraint chat_files_sha256_check check (sha256 ~ '^[0-9a-f]{64}$'),
  constraint chat_files_status_check check (status in ('pending', 'shared')),
  constraint chat_files_shared_check check ((status = 'shared') = (message_id is not null))
);

comment on table public.chat_files is
  'A file shared in a conversation: pdf, jpg, png, doc, docx, mp3 or mp4, at most 10 MB. Its object is '
  'chat-files/{conversation_id}/{id} in Storage; pending until a message of its uploader carries it.';

create index chat_files_conversation_idx on public.chat_files (conversation_id, created_at);
create index chat_files_uploaded_by_idx on public.chat_files (uploaded_by, created_at);
create index chat_files_message_idx on public.chat_files (message_id);

alter table public.chat_files enable row level security;
revoke all on public.chat_files from anon;
revoke update, delete on public.chat_files from authenticated;
grant update (status, message_id) on public.chat_files to authenticated;

create policy "Participants can read their conversations' files"
  on public.chat_files for select to authenticated
  using ((select app.takes_part_in_conversation(conversation_id)));

create policy "Participants can add files to their conversations"
  on public.chat_files for insert to authenticated
  with check (uploaded_by = (select auth.uid()) and (select app.takes_part_in_conversation(conversation_id)));

create policy "Uploaders can share their files"
  on public.chat_files for update to authenticated
  using (uploaded_by = (select auth.uid()) and (select app.takes_part_in_conversation(conversation_id)))
  with check (uploaded_by = (select auth.uid()));

create or replace function app.check_chat_file() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_bucket storage.buckets;
  v_times timestamptz[];
  v_extension text := lower(substring(new.filename from '\.([A-Za-z0-9]+)$'));
begin
  if tg_op = 'UPDATE' then
    if new.conversation_id <> old.conversation_id or new.uploaded_by <> old.uploaded_by
       or new.filename <> old.filename or new.mime_type <> old.mime_type
       or new.size_bytes <> old.size_bytes or new.sha256 is distinct from old.sha256 then
      raise exception using errcode = 'P0001', message = 'VAL_001', detail = 'Solo se comparte un archivo';
    end if;
    if old.status = 'shared' then
      raise exception using errcode = 'P0001', message = 'VAL_001',
        detail = 'El archivo ya fue compartido', hint = 'attachments';
    end if;
    if new.status = 'shared' and not exists (
      select 1 from public.chat_messages m
       where m.id = new.message_id and m.conversation_id = new.conversation_id and m.sender_id = new.uploaded_by
    ) then
      raise exception using errcode = 'P0001', message = 'VAL_001',
        detail = 'El archivo se comparte en un mensaje de quien lo subió', hint = 'attachments';
    end if;
    new.shared_at := case when new.status = 'shared' then app.chat_now() end;
    return new;
  end if;

  select * into v_bucket from storage.buckets b where b.id = 'chat-files';
  if not (new.mime_type = any (v_bucket.allowed_mime_types))
     or v_extension is null
     or v_extension not in ('pdf', 'jpg', 'jpeg', 'png', 'doc', 'docx', 'mp3', 'mp4') then
    raise exception using errcode = 'P0001', message = 'FILE_003',
      detail = 'Este tipo de archivo no está permitido en conversaciones médicas: pdf, jpg, png, doc, docx, mp3, mp4',
      hint = case when v_extension in ('pdf', 'jpg', 'jpeg', 'png', 'doc', 'docx', 'mp3', 'mp4')
                  then 'mimeType' else 'filename' end;
  end if;
  if new.size_bytes > v_bucket.file_size_limit then
    raise exception using errcode = 'P0001', message = 'FILE_001',
      detail = format('El archivo excede el tamaño máximo permitido (%s bytes)', v_bucket.file_size_limit),
      hint = 'sizeBytes';
  end if;
  perform pg_advisory_xact_lock(hashtextextended('chat-files:' || new.uploaded_by::text, 0));
  select coalesce(array_agg(f.created_at), '{}') into v_times
    from public.chat_files f
   where f.uploaded_by = new.uploaded_by and f.created_at > app.chat_now() - interval '1 hour';
  perform app.require_chat_rate(v_times, interval '1 hour', 10, 'archivos por hora');
  new.status := 'pending';
  new.message_id := null;
  new.shared_at := null;
  new.created_at := app.chat_now();
  return new;
end;
$$;

create trigger chat_files_check
  before insert or update on public.chat_files
  for each row execute function app.check_chat_file();

create or replace function app.broadcast_chat_file_shared() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform realtime.send(
    jsonb_build_object(
      'conversationId', new.conversation_id, 'messageId', new.message_id, 'fileId', new.id,
      'filename', new.filename, 'size', new.size_bytes, 'mimeType', new.mime_type,
      'uploader', app.chat_person_json(new.uploaded_by),
      'downloadPath', '/v1/chat/files/' || new.id::text || '/download'
    ),
    'file_shared',
    'conversation:' || new.conversation_id::text,
    true
  );
  return null;
end;
$$;

create trigger chat_files_broadcast_shared
  after update of status on public.chat_files
  for each row when (new.status = 'shared' and old.status <> 'shared')
  execute function app.broadcast_chat_file_shared();

-- -----------------------------------------------------------------------------
-- A message as the API and the events carry it
-- -----------------------------------------------------------------------------

-- Null unless the caller takes part in its conversation. A deleted message
-- is a tombstone: no content, attachments or edit history.
create or replace function app.chat_message_json(m public.chat_messages) returns jsonb
language sql stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'id', m.id,
    'conversationId', m.conversation_id,
    'sender', app.chat_person_json(m.sender_id),
    'messageType', m.message_type,
    'content', m.body,
    'attachments', case when m.deleted_at is null then coalesce((
      select jsonb_agg(jsonb_build_object('id', f.id, 'filename', f.filename, 'mimeType', f.mime_type,
                                          'size', f.size_bytes) order by f.created_at, f.id)
        from public.chat_files f where f.message_id = m.id
    ), '[]'::jsonb) else '[]'::jsonb end,
    'replyTo', (
      select jsonb_build_object(
        'messageId', r.id,
        'senderName', (select u.name || ' ' || u.last_name from public.users u where u.id = r.sender_id),
        'contentPreview', left(r.body, 100),
        'timestamp', app.iso(r.created_at)
      )
        from public.chat_messages r where r.id = m.reply_to_id
    ),
    'readBy', coalesce((
      select jsonb_agg(jsonb_build_object('userId', r.user_id, 'readAt', app.iso(r.read_at)) order by r.read_at)
        from public.chat_message_reads r where r.message_id = m.id
    ), '[]'::jsonb),
    'deliveryStatus', case
      when exists (select 1 from public.chat_message_reads r where r.message_id = m.id) then 'read'
      else 'sent' end,
    'isEdited', m.edited_at is not null,
    'editedAt', app.iso(m.edited_at),
    'editHistory', case when m.deleted_at is null then coalesce((
      select jsonb_agg(jsonb_build_object('content', v.body, 'replacedAt', app.iso(v.replaced_at))
                       order by v.replaced_at)
        from private.chat_message_versions v where v.message_id = m.id and v.reason = 'edited'
    ), '[]'::jsonb) else '[]'::jsonb end,
    'isDeleted', m.deleted_at is not null,
    'deletedAt', app.iso(m.deleted_at),
    'clientMsgId', m.client_msg_id,
    'timestamp', app.iso(m.created_at),
    'createdAt', app.iso(m.created_at),
    'updatedAt', app.iso(greatest(m.created_at, m.edited_at, m.deleted_at))
  )
  where app.takes_part_in_conversation(m.conversation_id)
$$;

revoke all on function app.chat_message_json(public.chat_messages) from public;
grant execute on function app.chat_message_json(public.chat_messages) to authenticated;

-- new_message, at commit (deferred), so that it carries the files shared with it.
create or replace function app.broadcast_chat_message_created() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_message jsonb;
begin
  select app.chat_message_json(m) into v_message from public.chat_messages m where m.id = new.id;
  perform realtime.send(
    jsonb_build_object(
      'conversationId', new.conversation_id, 'messageId', new.id, 'sender', v_message -> 'sender',
      'content', v_message -> 'content', 'timestamp', v_message -> 'timestamp',
      'attachments', v_message -> 'attachments', 'message', v_message
    ),
    'new_message',
    'conversation:' || new.conversation_id::text,
    true
  );
  return null;
end;
$$;

create constraint trigger chat_messages_broadcast_created
  after insert on public.chat_messages
  deferrable initially deferred
  for each row execute function app.broadcast_chat_message_created();

create or replace function app.broadcast_chat_message_changed() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.deleted_at is not null and old.deleted_at is null then
    perform realtime.send(
      jsonb_build_object('conversationId', new.conversation_id, 'messageId', new.id,
                         'deletedAt', app.iso(new.deleted_at)),
      'message_deleted',
      'conversation:' || new.conversation_id::text,
      true
    );
  elsif new.edited_at is distinct from old.edited_at then
    perform realtime.send(
      jsonb_build_object('conversationId', new.conversation_id, 'messageId', new.id, 'content', new.body,
                         'editedAt', app.iso(new.edited_at)),
      'message_edited',
      'conversation:' || new.conversation_id::text,
      true
    );
  end if;
  return null;
end;
$$;

create trigger chat_messages_broadcast_changed
  after update on public.chat_messages
  for each row execute function app.broadcast_chat_message_changed();

-- -----------------------------------------------------------------------------
-- A conversation as its participants see it
-- -----------------------------------------------------------------------------

create or replace function app.chat_conversation_json(p_id uuid) returns jsonb
language sql stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'id', c.id,
    'type', c.type,
    'title', c.title,
    'description', c.description,
    'consultationId', c.consultation_id,
    'participants', (
      select jsonb_agg(jsonb_build_object(
        'userId', p.user_id, 'userType', u.role, 'fullName', u.name || ' ' || u.last_name,
        'status', case when p.left_at is null then 'active' else 'left' end,
        'joinedAt', app.iso(p.joined_at), 'leftAt', app.iso(p.left_at)
      ) order by p.joined_at, p.user_id)
        from public.conversation_participants p join public.users u on u.id = p.user_id
       where p.conversation_id = c.id
    ),
    'settings', jsonb_build_object('muted', me.muted, 'archived', me.archived, 'pinned', me.pinned),
    'lastMessage', (
      select jsonb_build_object(
        'id', m.id, 'sender', app.chat_person_json(m.sender_id), 'content', m.body,
        'messageType', m.message_type, 'isDeleted', m.deleted_at is not null, 'timestamp', app.iso(m.created_at),
        'isRead', m.sender_id = auth.uid() or exists (
          select 1 from public.chat_message_reads r where r.message_id = m.id and r.user_id = auth.uid()
        )
      )
        from public.chat_messages m where m.conversation_id = c.id
       order by m.created_at desc, m.id desc limit 1
    ),
    'unreadCount', app.chat_unread_count(c.id),
    'totalMessages', (select count(*) from public.chat_messages m where m.conversation_id = c.id and m.deleted_at is null),
    'createdBy', c.created_by,
    'isActive', true,
    'lastActivityAt', app.iso(c.last_activity_at),
    'createdAt', app.iso(c.created_at),
    'updatedAt', app.iso(c.updated_at)
  )
    from public.conversations c
    join public.conversation_participants me
      on me.conversation_id = c.id and me.user_id = auth.uid() and me.left_at is null
   where c.id = p_id
$$;

revoke all on function app.chat_conversation_json(uuid) from public;
grant execute on function app.chat_conversation_json(uuid) to authenticated;

-- -----------------------------------------------------------------------------
-- Reports (the admins' moderation list)
-- -----------------------------------------------------------------------------

create type public.chat_report_reason as enum ('spam', 'abuse', 'inappropriate', 'misinformation', 'other');

create table public.chat_message_reports (
  id uuid primary key default gen_random_uuid(),
  message_id uuid not null references public.chat_messages (id),
  conversation_id uuid not null references public.conversations (id),
  reported_by uuid not null references public.users (id),
  reason public.chat_report_reason not null,
  details text,
  created_at timestamptz not null default now(),
  constraint chat_message_reports_details_check check (char_length(details) <= 1000),
  constraint chat_message_reports_message_id_key unique (message_id, reported_by)
);

comment on table public.chat_message_reports is
  'A participant reports a message to the admins. An admin reads the reported message''s text '
  '(and no other) through app.chat_reports().';

create index chat_message_reports_reported_by_idx on public.chat_message_reports (reported_by);
create index chat_message_reports_conversation_idx on public.chat_message_reports (conversation_id);
create index chat_message_reports_created_idx on public.chat_message_reports (created_at desc, id desc);

alter table public.chat_message_reports enable row level security;
revoke all on public.chat_message_reports from anon;
revoke update, delete on public.chat_message_reports from authenticated;

create policy "Reporters can read their reports"
  on public.chat_message_reports for select to authenticated
  using (reported_by = (select auth.uid()));

create policy "Admins can read every report"
  on public.chat_message_reports for select to authenticated
  using ((select app.is_admin()));

create policy "Participants can report messages of their conversations"
  on public.chat_message_reports for insert to authenticated
  with check (reported_by = (select auth.uid()) and (select app.takes_part_in_conversation(conversation_id)));

create or replace function app.check_chat_report() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v public.chat_messages;
begin
  select * into v from public.chat_messages m where m.id = new.message_id;
  if not found or not app.takes_part_in_conversation(v.conversation_id) then
    raise exception using errcode = 'P0001', message = 'RES_001', detail = 'Mensaje no encontrado',
      hint = 'messageId';
  end if;
  if v.sender_id = new.reported_by then
    raise exception using errcode = 'P0001', message = 'VAL_001',
      detail = 'No puede reportar su propio mensaje', hint = 'messageId';
  end if;
  new.conversation_id := v.conversation_id;
  new.created_at := app.chat_now();
  return new;
end;
$$;

create trigger chat_message_reports_check
  before insert on public.chat_message_reports
  for each row execute function app.check_chat_report();

-- The admins' moderation list: each report with the reported message's text
-- (null once its sender deleted it). Empty for anyone who is not an admin.
create or replace function app.chat_reports(p_before_created_at timestamptz, p_before_id uuid, p_limit integer)
returns table (id uuid, cursor_created_at text, report jsonb)
language sql stable
security definer
set search_path = ''
as $$
  select r.id, r.created_at::text, jsonb_build_object(
    'id', r.id,
    'reason', r.reason,
    'details', r.details,
    'reportedBy', app.chat_person_json(r.reported_by),
    'conversationId', r.conversation_id,
    'conversationType', c.type,
    'message', jsonb_build_object(
      'id', m.id, 'sender', app.chat_person_json(m.sender_id), 'content', m.body,
      'isDeleted', m.deleted_at is not null, 'isEdited', m.edited_at is not null,
      'timestamp', app.iso(m.created_at)
    ),
    'createdAt', app.iso(r.created_at)
  )
    from public.chat_message_reports r
    join public.chat_messages m on m.id = r.message_id
    join public.conversations c on c.id = r.conversation_id
   where app.is_admin()
     and (p_before_created_at is null or (r.created_at, r.id) < (p_before_created_at, p_before_id))
   order by r.created_at desc, r.id desc
   limit p_limit
$$;

revoke all on function app.chat_reports(timestamptz, uuid, integer) from public;
grant execute on function app.chat_reports(timestamptz, uuid, integer) to authenticated;

-- What an admin reads of conversations, for moderation: metadata without
-- title, description, text or files. Empty for anyone who is not an admin.
create or replace function app.chat_conversation_states(
  p_id uuid, p_before_activity_at timestamptz, p_before_id uuid, p_limit integer
)
returns table (id uuid, cursor_created_at text, conversation jsonb)
language sql stable
security definer
set search_path = ''
as $$
  select c.id, c.last_activity_at::text, jsonb_build_object(
    'id', c.id,
    'type', c.type,
    'consultationId', c.consultation_id,
    'participants', (
      select jsonb_agg(jsonb_build_object(
        'userId', p.user_id, 'userType', u.role, 'fullName', u.name || ' ' || u.last_name,
        'status', case when p.left_at is null then 'active' else 'left' end,
        'joinedAt', app.iso(p.joined_at), 'leftAt', app.iso(p.left_at)
      ) order by p.joined_at, p.user_id)
        from public.conversation_participants p join public.users u on u.id = p.user_id
       where p.conversation_id = c.id
    ),
    'totalMessages', (select count(*) from public.chat_messages m where m.conversation_id = c.id),
    'reports', (select count(*) from public.chat_message_reports r where r.conversation_id = c.id),
    'createdBy', c.created_by,
    'lastActivityAt', app.iso(c.last_activity_at),
    'createdAt', app.iso(c.created_at),
    'updatedAt', app.iso(c.updated_at)
  )
    from public.conversations c
   where app.is_admin()
     and (p_id is null or c.id = p_id)
     and (p_before_activity_at is null or (c.last_activity_at, c.id) < (p_before_activity_at, p_before_id))
   order by c.last_activity_at desc, c.id desc
   limit p_limit
$$;

revoke all on function app.chat_conversation_states(uuid, timestamptz, uuid, integer) from public;
grant execute on function app.chat_conversation_states(uuid, timestamptz, uuid, integer) to authenticated;

-- -----------------------------------------------------------------------------
-- Video calls from a chat (LiveKit rooms, tokens signed by the API)
-- -----------------------------------------------------------------------------

create table public.chat_video_calls (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references public.conversations (id),
  started_by uuid not null references public.users (id),
  room_name text not null,
  status text not null default 'active',
  started_at timestamptz not null default now(),
  ended_at timestamptz,
  ended_by uuid references public.users (id),
  constraint chat_video_calls_status_check check (status in ('active', 'ended')),
  constraint chat_video_calls_ended_check check ((status = 'ended') = (ended_at is not null))
);

comment on table public.chat_video_calls is
  'A video call started from a conversation: its LiveKit room is chat-call-{id}. '
  'At most one active call per conversation.';

create unique index chat_video_calls_one_active_key on public.chat_video_calls (conversation_id)
  where status = 'active';
create index chat_video_calls_conversation_idx on public.chat_video_calls (conversation_id, started_at);
create index chat_video_calls_started_by_idx on public.chat_video_calls (started_by, started_at);

alter table public.chat_video_calls enable row level security;
revoke all on public.chat_video_calls from anon;
revoke update, delete on public.chat_video_calls from authenticated;
grant update (status) on public.chat_video_calls to authenticated;

create policy "Participants can read their conversations' calls"
  on public.chat_video_calls for select to authenticated
  using ((select app.takes_part_in_conversation(conversation_id)));

create policy "Participants can start calls in their conversations"
  on public.chat_video_calls for insert to authenticated
  with check (started_by = (select auth.uid()) and (select app.takes_part_in_conversation(conversation_id)));

create policy "Participants can end their conversations' calls"
  on public.chat_video_calls for update to authenticated
  using ((select app.takes_part_in_conversation(conversation_id)))
  with check ((select app.takes_part_in_conversation(conversation_id)));

create or replace function app.check_chat_video_call() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_type public.conversation_type;
  v_times timestamptz[];
begin
  if tg_op = 'UPDATE' then
    if old.status = 'ended' then
      new := old;
      return new;
    end if;
    if new.status = 'ended' then
      new.ended_at := app.chat_now();
      new.ended_by := auth.uid();
    end if;
    return new;
  end if;

  select c.type into v_type from public.conversations c where c.id = new.conversation_id;
  perform app.require_chat_hours(v_type);
  if exists (
    select 1 from public.conversation_participants p
     where p.conversation_id = new.conversation_id and p.user_id <> new.started_by and p.left_at is null
       and app.chat_blocked_between(new.started_by, p.user_id)
  ) then
    raise exception using errcode = 'P0001', message = 'CHAT_003',
      detail = 'No puede iniciar una videollamada en esta conversación: hay un bloqueo';
  end if;
  perform pg_advisory_xact_lock(hashtextextended('chat-calls:' || new.conversation_id::text, 0));
  if exists (
    select 1 from public.chat_video_calls v where v.conversation_id = new.conversation_id and v.status = 'active'
  ) then
    raise exception using errcode = 'P0001', message = 'RES_002',
      detail = 'La conversación ya tiene una videollamada activa', hint = 'conversationId';
  end if;
  select coalesce(array_agg(v.started_at), '{}') into v_times
    from public.chat_video_calls v
   where v.started_by = new.started_by and v.started_at > app.chat_now() - interval '1 day';
  perform app.require_chat_rate(v_times, interval '1 day', 5, 'videollamadas por día');
  new.room_name := 'chat-call-' || new.id::text;
  new.status := 'active';
  new.started_at := app.chat_now();
  new.ended_at := null;
  new.ended_by := null;
  return new;
end;
$$;

create trigger chat_video_calls_check
  before insert or update on public.chat_video_calls
  for each row execute function app.check_chat_video_call();

create or replace function app.broadcast_chat_video_call() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    perform realtime.send(
      jsonb_build_object('conversationId', new.conversation_id, 'callId', new.id,
                         'initiator', app.chat_person_json(new.started_by), 'roomName', new.room_name,
                         'startedAt', app.iso(new.started_at)),
      'video_call_started',
      'conversation:' || new.conversation_id::text,
      true
    );
  elsif new.status = 'ended' and old.status <> 'ended' then
    perform realtime.send(
      jsonb_build_object('conversationId', new.conversation_id, 'callId', new.id,
                         'endedBy', new.ended_by, 'endedAt', app.iso(new.ended_at)),
      'video_call_ended',
      'conversation:' || new.conversation_id::text,
      true
    );
  end if;
  return null;
end;
$$;

create trigger chat_video_calls_broadcast
  after insert or update of status on public.chat_video_calls
  for each row execute function app.broadcast_chat_video_call();

-- -----------------------------------------------------------------------------
-- RLS does not apply to TRUNCATE, and TRIGGER or REFERENCES would let a caller
-- change a table's behaviour: take them back from every table above.
-- -----------------------------------------------------------------------------
revoke truncate, trigger, references on all tables in schema public from anon, authenticated;
