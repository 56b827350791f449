-- =============================================================================
-- Live consultations: lifecycle, waiting queue, chat messages and files.
--
-- A consultation moves waiting → in_progress → closed (or waiting → closed).
-- The doctor (or an admin) opens it for a CONFIRMED appointment, the patient
-- checks in to the doctor's queue, the doctor starts it (which fixes its
-- LiveKit room) and the doctor or an admin closes it. A closed consultation
-- accepts no messages, files or tokens.
--
-- Who reads what (decision 5): the doctor and the patient read the whole
-- consultation, its messages and files; an admin reads only the operational
-- state through app.consultation_state(s)() (never room_name, messages or
-- files): the admin's read policy of 20261123000200 is replaced.
--
-- Events on the private topic `consultation:{id}` are sent by AFTER triggers
-- with realtime.send(), in the transaction of the change: delivered if and
-- only if it commits.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Helpers
-- -----------------------------------------------------------------------------

-- An instant as ISO 8601 UTC with milliseconds, as the API answers it.
create or replace function app.iso(p_at timestamptz) returns text
language sql immutable
set search_path = ''
as $$
  select to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

grant execute on function app.iso(timestamptz) to authenticated;

-- -----------------------------------------------------------------------------
-- Consultations: the live columns
-- -----------------------------------------------------------------------------

alter table public.consultations
  add column checked_in_at timestamptz,
  add column started_at timestamptz,
  add column room_name text,
  add column video_provider text,
  add constraint consultations_video_provider_check check (video_provider in ('livekit'));

comment on column public.consultations.room_name is
  'The LiveKit room, fixed when the consultation starts. Never readable by an admin.';

-- The doctor's waiting queue: checked-in consultations still waiting, by check-in time.
create index consultations_queue_idx on public.consultations (doctor_id, checked_in_at, id)
  where status = 'waiting' and checked_in_at is not null;

-- An admin reads the operational state through app.consultation_state(s)(), which
-- leave out room_name: the full row is for the consultation's doctor and patient.
drop policy "Admins can read every consultation's state" on public.consultations;

-- Writes go through the lifecycle functions below (security definer, each
-- checking who calls); no policy lets an API role write a row directly.
revoke insert, update on public.consultations from authenticated;

-- States and transitions. Raises P0001 with message = error code, detail =
-- text for the client, hint = field (see shared/app/pg-errors.ts).
create or replace function app.check_consultation() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    if new.status <> 'waiting' or new.started_at is not null or new.closed_at is not null
       or new.room_name is not null or new.checked_in_at is not null then
      raise exception using errcode = 'P0001', message = 'CON_003',
        detail = 'Una consulta nueva empieza en espera', hint = 'status';
    end if;
    return new;
  end if;

  if new.appointment_id <> old.appointment_id or new.doctor_id <> old.doctor_id
     or new.patient_id <> old.patient_id or new.created_by is distinct from old.created_by
     or new.created_at <> old.created_at then
    raise exception using errcode = 'P0001', message = 'VAL_001',
      detail = 'La cita, el médico y el paciente de una consulta no cambian';
  end if;

  if old.status = 'closed' then
    raise exception using errcode = 'P0001', message = 'CON_001',
      detail = 'La consulta está cerrada', hint = 'status';
  end if;

  if new.checked_in_at is distinct from old.checked_in_at
     and (old.status <> 'waiting' or old.checked_in_at is not null) then
    raise exception using errcode = 'P0001', message = 'CON_003',
      detail = 'Solo se ingresa a la sala de espera una vez, antes de que la consulta empiece',
      hint = 'status';
  end if;

  -- Fixed by the transitions only.
  new.started_at := old.started_at;
  new.closed_at := old.closed_at;
  new.room_name := old.room_name;
  new.video_provider := old.video_provider;

  if new.status <> old.status then
    if not (
      (old.status = 'waiting' and new.status in ('in_progress', 'closed'))
      or (old.status = 'in_progress' and new.status = 'closed')
    ) then
      raise exception using errcode = 'P0001', message = 'CON_003',
        detail = format('Una consulta %s no puede pasar a %s', old.status, new.status), hint = 'status';
    end if;
    if new.status = 'in_progress' then
      new.started_at := now();
      new.room_name := 'consultation-' || new.id::text;
      new.video_provider := 'livekit';
    elsif new.status = 'closed' then
      new.closed_at := now();
    end if;
  end if;
  return new;
end;
$$;

create trigger consultations_check
  before insert or update on public.consultations
  for each row execute function app.check_consultation();

-- The position (1 = next) of a checked-in, waiting consultation in its
-- doctor's queue; null otherwise, or when the caller may not see it.
create or replace function app.consultation_queue_position(p_id uuid) returns integer
language sql stable
security definer
set search_path = ''
as $$
  select (
    select count(*)::integer from public.consultations q
     where q.doctor_id = c.doctor_id and q.status = 'waiting' and q.checked_in_at is not null
       and (q.checked_in_at, q.id) <= (c.checked_in_at, c.id)
  )
  from public.consultations c
  where c.id = p_id and c.status = 'waiting' and c.checked_in_at is not null
    and (c.doctor_id = auth.uid() or c.patient_id = auth.uid() or app.is_admin())
$$;

revoke all on function app.consultation_queue_position(uuid) from public;
grant execute on function app.consultation_queue_position(uuid) to authenticated;

-- What an admin reads of a consultation: its operational state, without the
-- room, messages or files. Empty for anyone who is not an admin.
create or replace function app.consultation_state(p_id uuid)
returns table (
  id uuid, appointment_id uuid, doctor_id uuid, patient_id uuid, status public.consultation_status,
  checked_in_at timestamptz, queue_position integer, video_provider text, created_at timestamptz,
  started_at timestamptz, closed_at timestamptz, cursor_created_at text
)
language sql stable
security definer
set search_path = ''
as $$
  select c.id, c.appointment_id, c.doctor_id, c.patient_id, c.status, c.checked_in_at,
         app.consultation_queue_position(c.id), c.video_provider, c.created_at, c.started_at,
         c.closed_at, c.created_at::text
    from public.consultations c
   where c.id = p_id and app.is_admin()
$$;

-- A keyset page (created_at, id) of every consultation's operational state, for an admin.
create or replace function app.consultation_states(p_after_created_at timestamptz, p_after_id uuid, p_limit integer)
returns table (
  id uuid, appointment_id uuid, doctor_id uuid, patient_id uuid, status public.consultation_status,
  checked_in_at timestamptz, queue_position integer, video_provider text, created_at timestamptz,
  started_at timestamptz, closed_at timestamptz, cursor_created_at text
)
language sql stable
security definer
set search_path = ''
as $$
  select c.id, c.appointment_id, c.doctor_id, c.patient_id, c.status, c.checked_in_at,
         app.consultation_queue_position(c.id), c.video_provider, c.created_at, c.started_at,
         c.closed_at, c.created_at::text
    from public.consultations c
   where app.is_admin()
     and (p_after_created_at is null or (c.created_at, c.id) > (p_after_created_at, p_after_id))
   order by c.created_at, c.id
   limit p_limit
$$;

revoke all on function app.consultation_state(uuid) from public;
revoke all on function app.consultation_states(timestamptz, uuid, integer) from public;
grant execute on function app.consultation_state(uuid) to authenticated;
grant execute on function app.consultation_states(timestamptz, uuid, integer) to authenticated;

create index consultations_created_idx on public.consultations (created_at, id);

-- -----------------------------------------------------------------------------
-- Lifecycle: open, check in, start, close (each checks who calls)
-- -----------------------------------------------------------------------------

-- Opens the consultation of a CONFIRMED appointment (its doctor or an admin),
-- or answers the one it already has.
create or replace function app.open_consultation(p_appointment_id uuid)
returns table (id uuid, created boolean)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_appointment public.appointments;
  v_id uuid;
begin
  select * into v_appointment from public.appointments a where a.id = p_appointment_id;
  if not found or not (
    app.is_admin() or v_appointment.doctor_id = auth.uid() or v_appointment.patient_id = auth.uid()
  ) then
    raise exception using errcode = 'P0001', message = 'RES_001',
      detail = 'Cita no encontrada', hint = 'appointmentId';
  end if;
  if not (app.is_admin() or v_appointment.doctor_id = auth.uid()) then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'Solo el médico de la cita o un administrador abre la consulta';
  end if;

  select c.id into v_id from public.consultations c where c.appointment_id = p_appointment_id;
  if found then
    return query select v_id, false;
    return;
  end if;

  if v_appointment.status <> 'CONFIRMED' then
    raise exception using errcode = 'P0001', message = 'CON_003',
      detail = 'Solo se abre la consulta de una cita confirmada', hint = 'appointmentId';
  end if;

  insert into public.consultations (appointment_id, doctor_id, patient_id, created_by)
  values (v_appointment.id, v_appointment.doctor_id, v_appointment.patient_id, auth.uid())
  on conflict (appointment_id) do nothing
  returning consultations.id into v_id;
  if v_id is null then
    select c.id into v_id from public.consultations c where c.appointment_id = p_appointment_id;
    return query select v_id, false;
    return;
  end if;
  return query select v_id, true;
end;
$$;

-- The consultation `p_id` if the caller takes part in it or is an admin;
-- RES_001 otherwise. Locks it for the transition that follows.
create or replace function app.consultation_for_transition(p_id uuid) returns public.consultations
language plpgsql
security definer
set search_path = ''
as $$
declare
  v public.consultations;
begin
  select * into v from public.consultations c where c.id = p_id for update;
  if not found or not (app.is_admin() or v.doctor_id = auth.uid() or v.patient_id = auth.uid()) then
    raise exception using errcode = 'P0001', message = 'RES_001', detail = 'Consulta no encontrada';
  end if;
  return v;
end;
$$;

revoke all on function app.consultation_for_transition(uuid) from public;

-- The patient enters the doctor's waiting queue (once; again is a no-op).
create or replace function app.check_in_consultation(p_id uuid) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v public.consultations := app.consultation_for_transition(p_id);
begin
  if v.patient_id is distinct from auth.uid() then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'Solo el paciente de la consulta ingresa a la sala de espera';
  end if;
  if v.status = 'closed' then
    raise exception using errcode = 'P0001', message = 'CON_001',
      detail = 'La consulta está cerrada', hint = 'status';
  end if;
  if v.checked_in_at is null then
    update public.consultations c set checked_in_at = now() where c.id = p_id;
  end if;
end;
$$;

-- The doctor starts the consultation (again is a no-op): in_progress, with its LiveKit room.
create or replace function app.start_consultation(p_id uuid) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v public.consultations := app.consultation_for_transition(p_id);
begin
  if v.doctor_id is distinct from auth.uid() then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'Solo el médico de la consulta la inicia';
  end if;
  if v.status = 'waiting' then
    update public.consultations c set status = 'in_progress' where c.id = p_id;
  elsif v.status = 'closed' then
    raise exception using errcode = 'P0001', message = 'CON_001',
      detail = 'La consulta está cerrada', hint = 'status';
  end if;
end;
$$;

-- The doctor or an admin closes the consultation (again is a no-op).
create or replace function app.close_consultation(p_id uuid) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v public.consultations := app.consultation_for_transition(p_id);
begin
  if not (app.is_admin() or v.doctor_id = auth.uid()) then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'Solo el médico de la consulta o un administrador la cierra';
  end if;
  if v.status <> 'closed' then
    update public.consultations c set status = 'closed' where c.id = p_id;
  end if;
end;
$$;

revoke all on function app.open_consultation(uuid), app.check_in_consultation(uuid),
  app.start_consultation(uuid), app.close_consultation(uuid) from public;
grant execute on function app.open_consultation(uuid), app.check_in_consultation(uuid),
  app.start_consultation(uuid), app.close_consultation(uuid) to authenticated;

-- consultation.closed, in the transaction that closes it.
create or replace function app.broadcast_consultation_closed() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform realtime.send(
    jsonb_build_object('consultationId', new.id, 'closedAt', app.iso(new.closed_at)),
    'consultation.closed',
    'consultation:' || new.id::text,
    true
  );
  return null;
end;
$$;

create trigger consultations_broadcast_closed
  after update of status on public.consultations
  for each row when (new.status = 'closed' and old.status <> 'closed')
  execute function app.broadcast_consultation_closed();

-- -----------------------------------------------------------------------------
-- Files
-- -----------------------------------------------------------------------------

create table public.consultation_files (
  id uuid primary key default gen_random_uuid(),
  consultation_id uuid not null references public.consultations (id),
  uploaded_by uuid not null references public.users (id),
  filename text not null,
  mime_type text not null,
  size_bytes bigint not null,
  sha256 text,
  status text not null default 'pending',
  created_at timestamptz not null default now(),
  confirmed_at timestamptz,
  constraint consultation_files_filename_check
    check (char_length(filename) between 1 and 200 and filename !~ '[/\\]'),
  constraint consultation_files_size_bytes_check check (size_bytes > 0),
  constraint consultation_files_sha256_check check (sha256 ~ '^[0-9a-f]{64}$'),
  constraint consultation_files_status_check check (status in ('pending', 'uploaded'))
);

comment on table public.consultation_files is
  'A file shared in a consultation. Its object is consultation-files/{consultation_id}/{id} in Storage; '
  'pending until its uploader confirms the upload. No URL is ever stored.';

create index consultation_files_consultation_idx on public.consultation_files (consultation_id, created_at, id);
create index consultation_files_uploaded_by_idx on public.consultation_files (uploaded_by);

alter table public.consultation_files enable row level security;
revoke all on public.consultation_files from anon;
revoke delete on public.consultation_files from authenticated;

create policy "Consultation members can read its files"
  on public.consultation_files for select to authenticated
  using ((select app.takes_part_in_consultation(consultation_id)));

create policy "Consultation members can add files to it"
  on public.consultation_files for insert to authenticated
  with check (
    uploaded_by = (select auth.uid())
    and (select app.takes_part_in_consultation(consultation_id))
  );

create policy "Uploaders can confirm their files"
  on public.consultation_files for update to authenticated
  using (uploaded_by = (select auth.uid()))
  with check (uploaded_by = (select auth.uid()));

-- The bucket's rules (size and mime types) and the consultation's state.
create or replace function app.check_consultation_file() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_bucket storage.buckets;
begin
  if exists (select 1 from public.consultations c where c.id = new.consultation_id and c.status = 'closed') then
    raise exception using errcode = 'P0001', message = 'CON_001',
      detail = 'La consulta está cerrada', hint = 'status';
  end if;
  if tg_op = 'UPDATE' then
    if new.consultation_id <> old.consultation_id or new.uploaded_by <> old.uploaded_by
       or new.filename <> old.filename or new.mime_type <> old.mime_type
       or new.size_bytes <> old.size_bytes or new.sha256 is distinct from old.sha256 then
      raise exception using errcode = 'P0001', message = 'VAL_001',
        detail = 'Solo cambia el estado de un archivo';
    end if;
    if old.status = 'uploaded' then
      new.status := 'uploaded';
      new.confirmed_at := old.confirmed_at;
    elsif new.status = 'uploaded' then
      new.confirmed_at := now();
    end if;
    return new;
  end if;

  new.status := 'pending';
  new.confirmed_at := null;
  select * into v_bucket from storage.buckets b where b.id = 'consultation-files';
  if v_bucket.allowed_mime_types is not null and not (new.mime_type = any (v_bucket.allowed_mime_types)) then
    raise exception using errcode = 'P0001', message = 'VAL_001',
      detail = 'Tipo de archivo no permitido: ' || array_to_string(v_bucket.allowed_mime_types, ', '),
      hint = 'mimeType';
  end if;
  if v_bucket.file_size_limit is not null and new.size_bytes > v_bucket.file_size_limit then
    raise exception using errcode = 'P0001', message = 'FILE_001',
      detail = format('El archivo supera el máximo de %s bytes', v_bucket.file_size_limit),
      hint = 'sizeBytes';
  end if;
  return new;
end;
$$;

create trigger consultation_files_check
  before insert or update on public.consultation_files
  for each row execute function app.check_consultation_file();

-- -----------------------------------------------------------------------------
-- Messages
-- -----------------------------------------------------------------------------

create type public.consultation_message_kind as enum ('text', 'file');

create table public.consultation_messages (
  id uuid primary key default gen_random_uuid(),
  consultation_id uuid not null references public.consultations (id),
  sender_id uuid not null references public.users (id),
  kind public.consultation_message_kind not null default 'text',
  body text,
  file_id uuid references public.consultation_files (id),
  client_msg_id text,
  created_at timestamptz not null default now(),
  delivered_at timestamptz,
  constraint consultation_messages_client_msg_id_key unique (consultation_id, sender_id, client_msg_id),
  constraint consultation_messages_file_id_key unique (file_id),
  constraint consultation_messages_body_check check (char_length(body) between 1 and 5000),
  constraint consultation_messages_client_msg_id_check check (char_length(client_msg_id) between 1 and 100),
  constraint consultation_messages_kind_check check (
    (kind = 'text' and body is not null and file_id is null)
    or (kind = 'file' and file_id is not null and body is null)
  )
);

comment on table public.consultation_messages is
  'The chat of a consultation between its doctor and patient: text, or a confirmed file. '
  'A sender''s client_msg_id makes a retried send return the original message.';

create index consultation_messages_consultation_idx
  on public.consultation_messages (consultation_id, created_at, id);
create index consultation_messages_sender_idx on public.consultation_messages (sender_id);

alter table public.consultation_messages enable row level security;
revoke all on public.consultation_messages from anon;
revoke update, delete on public.consultation_messages from authenticated;
grant update (delivered_at) on public.consultation_messages to authenticated;

create policy "Consultation members can read its messages"
  on public.consultation_messages for select to authenticated
  using ((select app.takes_part_in_consultation(consultation_id)));

create policy "Consultation members can send messages as themselves"
  on public.consultation_messages for insert to authenticated
  with check (
    sender_id = (select auth.uid())
    and (select app.takes_part_in_consultation(consultation_id))
  );

create policy "Recipients can mark messages delivered"
  on public.consultation_messages for update to authenticated
  using (sender_id <> (select auth.uid()) and (select app.takes_part_in_consultation(consultation_id)))
  with check (sender_id <> (select auth.uid()) and (select app.takes_part_in_consultation(consultation_id)));

create or replace function app.check_consultation_message() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if exists (select 1 from public.consultations c where c.id = new.consultation_id and c.status = 'closed') then
    raise exception using errcode = 'P0001', message = 'CON_001',
      detail = 'La consulta está cerrada', hint = 'status';
  end if;
  if tg_op = 'UPDATE' then
    -- Delivered once: the first receipt's time stays.
    if old.delivered_at is not null then
      new.delivered_at := old.delivered_at;
    end if;
    return new;
  end if;
  new.created_at := now();
  new.delivered_at := null;
  if new.kind = 'file' and not exists (
    select 1 from public.consultation_files f
     where f.id = new.file_id and f.consultation_id = new.consultation_id
       and f.uploaded_by = new.sender_id and f.status = 'uploaded'
  ) then
    raise exception using errcode = 'P0001', message = 'FILE_002',
      detail = 'El archivo no fue subido', hint = 'fileId';
  end if;
  return new;
end;
$$;

create trigger consultation_messages_check
  before insert or update on public.consultation_messages
  for each row execute function app.check_consultation_message();

-- A message as the API and the Realtime events carry it; null unless the
-- caller takes part in its consultation.
create or replace function app.consultation_message_json(m public.consultation_messages) returns jsonb
language sql stable
security definer
set search_path = ''
as $$
  select jsonb_strip_nulls(jsonb_build_object(
    'id', m.id,
    'consultationId', m.consultation_id,
    'senderId', m.sender_id,
    'kind', m.kind,
    'text', m.body,
    'file', (
      select jsonb_build_object('fileId', f.id, 'filename', f.filename, 'mimeType', f.mime_type,
                                'sizeBytes', f.size_bytes)
        from public.consultation_files f
       where f.id = m.file_id and f.consultation_id = m.consultation_id
    ),
    'clientMsgId', m.client_msg_id,
    'createdAt', app.iso(m.created_at)
  )) || jsonb_build_object('deliveredAt', app.iso(m.delivered_at))
  where app.takes_part_in_consultation(m.consultation_id)
$$;

revoke all on function app.consultation_message_json(public.consultation_messages) from public;
grant execute on function app.consultation_message_json(public.consultation_messages) to authenticated;

create or replace function app.broadcast_consultation_message() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    perform realtime.send(
      jsonb_build_object('message', app.consultation_message_json(new)),
      'chat.message_created',
      'consultation:' || new.consultation_id::text,
      true
    );
  elsif old.delivered_at is null and new.delivered_at is not null then
    perform realtime.send(
      jsonb_build_object('messageId', new.id, 'deliveredAt', app.iso(new.delivered_at)),
      'chat.message_delivered',
      'consultation:' || new.consultation_id::text,
      true
    );
  end if;
  return null;
end;
$$;

create trigger consultation_messages_broadcast
  after insert or update of delivered_at on public.consultation_messages
  for each row execute function app.broadcast_consultation_message();

-- -----------------------------------------------------------------------------
-- RLS does not apply to TRUNCATE, and TRIGGER or REFERENCES would let a caller
-- change a table's behaviour: take them back from every table above.
-- -----------------------------------------------------------------------------
revoke truncate, trigger, references on all tables in schema public from anon, authenticated;
