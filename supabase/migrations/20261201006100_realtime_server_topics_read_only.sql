-- =============================================================================
-- Server events cannot be forged; what a participant says is on their own topic.
--
-- The private topics `consultation:{id}` and `conversation:{id}` carry the
-- server's events (chat.message_created, consultation.closed, new_message,
-- video_call_started, ...), sent by the database with realtime.send() from
-- security-definer triggers, which row-level security does not stop. Their
-- participants could also insert there, so a patient's supabase-js client
-- could broadcast a `consultation.closed` or a message "from the doctor" and
-- the other client took it for real. Now no client may send on them: they
-- are read-only, and Supabase Realtime refuses a client's broadcast and
-- presence there (it checks insert on realtime.messages per extension).
--
-- What clients say (typing, presence) goes on the topic of the one who says
-- it: `consultation:{id}:user:{userId}` and `conversation:{id}:user:{userId}`.
-- Every participant may read each participant's topic; only {userId} may send
-- on it. Realtime authorizes presence by topic and extension only (a policy
-- never sees the presence key), so a presence or a typing signal is trusted
-- for the user the topic names, never for the key or payload it carries.
-- =============================================================================

drop policy "Consultation members can send on its channel" on realtime.messages;
drop policy "Conversation participants can send on its channel" on realtime.messages;

-- The id in a participant's topic `<kind>:<uuid>:user:<uuid>`, or null.
create or replace function app.signal_topic_id(p_topic text, p_kind text) returns uuid
language sql immutable
set search_path = ''
as $$
  select case
    when p_topic ~ ('^' || p_kind || ':[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
                    || ':user:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
    then substr(p_topic, length(p_kind) + 2, 36)::uuid
  end
$$;

-- The user whose topic `<kind>:<uuid>:user:<uuid>` is, or null.
create or replace function app.signal_topic_user(p_topic text, p_kind text) returns uuid
language sql immutable
set search_path = ''
as $$
  select case when app.signal_topic_id(p_topic, p_kind) is not null then right(p_topic, 36)::uuid end
$$;

grant execute on function app.signal_topic_id(text, text), app.signal_topic_user(text, text) to authenticated;

create policy "Consultation members can receive each other's signals"
  on realtime.messages for select to authenticated
  using (
    extension in ('broadcast', 'presence')
    and (select app.takes_part_in_consultation(app.signal_topic_id(realtime.topic(), 'consultation')))
  );

create policy "Consultation members can send signals as themselves"
  on realtime.messages for insert to authenticated
  with check (
    extension in ('broadcast', 'presence')
    and app.signal_topic_user(realtime.topic(), 'consultation') = (select auth.uid())
    and (select app.takes_part_in_consultation(app.signal_topic_id(realtime.topic(), 'consultation')))
  );

create policy "Conversation participants can receive each other's signals"
  on realtime.messages for select to authenticated
  using (
    extension in ('broadcast', 'presence')
    and (select app.takes_part_in_conversation(app.signal_topic_id(realtime.topic(), 'conversation')))
  );

create policy "Conversation participants can send signals as themselves"
  on realtime.messages for insert to authenticated
  with check (
    extension in ('broadcast', 'presence')
    and app.signal_topic_user(realtime.topic(), 'conversation') = (select auth.uid())
    and (select app.takes_part_in_conversation(app.signal_topic_id(realtime.topic(), 'conversation')))
  );
