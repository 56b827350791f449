-- =============================================================================
-- Video on LiveKit (issue #7): rooms, observers, recording consent and
-- recordings, participants seen by webhooks, and the webhook log.
--
-- A consultation has at most one LiveKit room, named when the consultation
-- starts (consultations.room_name). Who may join: its doctor, its patient and
-- the observers its doctor granted (audited). A recording needs the explicit,
-- revocable consent of both the doctor and the patient; a revocation stops an
-- active recording. LiveKit's webhooks are stored once per event id.
--
-- Who reads what (decision 5): the doctor and the patient read their
-- consultation's room, consents, recordings and participants; an observer
-- reads their own grant; an admin reads none of it. Writes go through the
-- security definer functions below, which check the caller.
-- =============================================================================

create index consultations_room_name_idx on public.consultations (room_name);

-- Observer grants are audited: the log accepts them.
alter table public.audit_events drop constraint audit_events_action_check;
alter table public.audit_events add constraint audit_events_action_check
  check (action in ('read', 'create', 'update', 'delete', 'grant'));
alter table public.audit_events drop constraint audit_events_resource_type_check;
alter table public.audit_events add constraint audit_events_resource_type_check
  check (resource_type in ('patient', 'antecedents', 'clinic_history', 'consultation_observer'));

-- -----------------------------------------------------------------------------
-- Rooms
-- -----------------------------------------------------------------------------

create table public.video_rooms (
  consultation_id uuid primary key references public.consultations (id),
  room_name text not null unique,
  room_sid text not null,
  created_by uuid not null references public.users (id),
  created_at timestamptz not null default now(),
  finished_at timestamptz
);

comment on table public.video_rooms is
  'The LiveKit room of a consultation (one per consultation), created through POST /v1/video/rooms; '
  'finished_at is set by the room_finished webhook.';

alter table public.video_rooms enable row level security;
revoke all on public.video_rooms from anon;
revoke insert, update, delete on public.video_rooms from authenticated;

create policy "Consultation members can read its video room"
  on public.video_rooms for select to authenticated
  using ((select app.takes_part_in_consultation(consultation_id)));

-- -----------------------------------------------------------------------------
-- Observers
-- -----------------------------------------------------------------------------

create table public.consultation_observers (
  consultation_id uuid not null references public.consultations (id),
  user_id uuid not null references public.users (id),
  granted_by uuid not null references public.users (id),
  granted_at timestamptz not null default now(),
  primary key (consultation_id, user_id)
);

comment on table public.consultation_observers is
  'Who may watch a consultation''s video (subscribe only): an explicit grant by its doctor, audited.';

create index consultation_observers_user_idx on public.consultation_observers (user_id);
create index consultation_observers_granted_by_idx on public.consultation_observers (granted_by);

alter table public.consultation_observers enable row level security;
revoke all on public.consultation_observers from anon;
revoke insert, update, delete on public.consultation_observers from authenticated;

create policy "Consultation members and the observer can read an observer grant"
  on public.consultation_observers for select to authenticated
  using (user_id = (select auth.uid()) or (select app.takes_part_in_consultation(consultation_id)));

-- -----------------------------------------------------------------------------
-- Recording consent and recordings
-- -----------------------------------------------------------------------------

create table public.recording_consents (
  consultation_id uuid not null references public.consultations (id),
  user_id uuid not null references public.users (id),
  granted boolean not null,
  updated_at timestamptz not null default now(),
  primary key (consultation_id, user_id)
);

comment on table public.recording_consents is
  'The doctor''s and the patient''s explicit consent to record their consultation; revocable.';

create index recording_consents_user_idx on public.recording_consents (user_id);

alter table public.recording_consents enable row level security;
revoke all on public.recording_consents from anon;
revoke insert, update, delete on public.recording_consents from authenticated;

create policy "Consultation members can read its recording consents"
  on public.recording_consents for select to authenticated
  using ((select app.takes_part_in_consultation(consultation_id)));

create table public.consultation_recordings (
  id uuid primary key default gen_random_uuid(),
  consultation_id uuid not null references public.consultations (id),
  egress_id text not null unique,
  status text not null default 'active',
  started_by uuid not null references public.users (id),
  started_at timestamptz not null default now(),
  stopped_by uuid references public.users (id),
  stop_reason text,
  ended_at timestamptz,
  constraint consultation_recordings_status_check check (status in ('active', 'ended', 'failed')),
  constraint consultation_recordings_stop_reason_check
    check (stop_reason in ('stopped', 'consent_revoked', 'egress_ended'))
);

comment on table public.consultation_recordings is
  'A LiveKit egress (room composite) recording a consultation; at most one active at a time.';

create unique index consultation_recordings_active_idx
  on public.consultation_recordings (consultation_id) where status = 'active';
create index consultation_recordings_consultation_idx
  on public.consultation_recordings (consultation_id, started_at);
create index consultation_recordings_started_by_idx on public.consultation_recordings (started_by);
create index consultation_recordings_stopped_by_idx on public.consultation_recordings (stopped_by);

alter table public.consultation_recordings enable row level security;
revoke all on public.consultation_recordings from anon;
revoke insert, update, delete on public.consultation_recordings from authenticated;

create policy "Consultation members can read its recordings"
  on public.consultation_recordings for select to authenticated
  using ((select app.takes_part_in_consultation(consultation_id)));

-- -----------------------------------------------------------------------------
-- Participants (from webhooks) and the webhook log
-- -----------------------------------------------------------------------------

create table public.video_participants (
  consultation_id uuid not null references public.consultations (id),
  identity text not null,
  joins integer not null default 0,
  joined_at timestamptz,
  left_at timestamptz,
  primary key (consultation_id, identity)
);

comment on table public.video_participants is
  'Who joined a consultation''s room, as LiveKit''s participant_joined/left webhooks tell it.';

alter table public.video_participants enable row level security;
revoke all on public.video_participants from anon;
revoke insert, update, delete on public.video_participants from authenticated;

create policy "Consultation members can read its video participants"
  on public.video_participants for select to authenticated
  using ((select app.takes_part_in_consultation(consultation_id)));

create table private.livekit_webhook_events (
  id text primary key,
  event text not null,
  room_name text,
  received_at timestamptz not null default now()
);

comment on table private.livekit_webhook_events is
  'Every LiveKit webhook applied, by its event id: a second delivery of the same id changes nothing.';

alter table private.livekit_webhook_events enable row level security;
revoke all on private.livekit_webhook_events from anon, authenticated;
grant select, insert on private.livekit_webhook_events to service_role;

-- -----------------------------------------------------------------------------
-- Functions (each checks who calls)
-- -----------------------------------------------------------------------------

-- The caller's part in a consultation's video: doctor, patient or observer; no row if none.
create or replace function app.video_access(p_id uuid)
returns table (role text, room_name text, status public.consultation_status, doctor_id uuid, patient_id uuid)
language sql stable
security definer
set search_path = ''
as $$
  select case
           when c.doctor_id = auth.uid() then 'doctor'
           when c.patient_id = auth.uid() then 'patient'
           else 'observer'
         end,
         c.room_name, c.status, c.doctor_id, c.patient_id
    from public.consultations c
   where c.id = p_id
     and (c.doctor_id = auth.uid() or c.patient_id = auth.uid()
          or exists (select 1 from public.consultation_observers o
                      where o.consultation_id = c.id and o.user_id = auth.uid()))
$$;

-- Records the consultation's room (once); answers its row. Doctor, patient or observer.
create or replace function app.record_video_room(p_id uuid, p_room_sid text)
returns table (room_name text, room_sid text, created_at timestamptz, created boolean)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v record;
  v_created boolean;
begin
  select * into v from app.video_access(p_id);
  if not found then
    raise exception using errcode = 'P0001', message = 'RES_001', detail = 'Consulta no encontrada';
  end if;
  insert into public.video_rooms (consultation_id, room_name, room_sid, created_by)
  values (p_id, v.room_name, p_room_sid, auth.uid())
  on conflict (consultation_id) do nothing;
  v_created := found;
  return query select r.room_name, r.room_sid, r.created_at, v_created
    from public.video_rooms r where r.consultation_id = p_id;
end;
$$;

-- The doctor grants a user to observe the consultation (again is a no-op); audited.
create or replace function app.grant_consultation_observer(p_id uuid, p_user_id uuid)
returns table (granted_at timestamptz, granted_by uuid, created boolean)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v public.consultations;
  v_role public.app_role;
  v_created boolean;
begin
  select * into v from public.consultations c where c.id = p_id;
  if not found or not (v.doctor_id = auth.uid() or v.patient_id = auth.uid()) then
    raise exception using errcode = 'P0001', message = 'RES_001', detail = 'Consulta no encontrada';
  end if;
  if v.doctor_id <> auth.uid() then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'Solo el médico de la consulta autoriza observadores';
  end if;
  select u.role into v_role from public.users u where u.id = p_user_id and u.deleted_at is null;
  if not found then
    raise exception using errcode = 'P0001', message = 'RES_001', detail = 'Usuario no encontrado';
  end if;
  if v_role = 'admin' or p_user_id in (v.doctor_id, v.patient_id) then
    raise exception using errcode = 'P0001', message = 'VAL_001',
      detail = 'Un observador no es parte de la consulta ni administrador', hint = 'userId';
  end if;
  insert into public.consultation_observers (consultation_id, user_id, granted_by)
  values (p_id, p_user_id, auth.uid())
  on conflict do nothing;
  v_created := found;
  if v_created then
    perform app.audit('grant', 'consultation_observer', array[p_id]);
  end if;
  return query select o.granted_at, o.granted_by, v_created
    from public.consultation_observers o where o.consultation_id = p_id and o.user_id = p_user_id;
end;
$$;

-- The caller (doctor or patient) gives or revokes consent; answers the active
-- recording's egress when a revocation must stop it.
create or replace function app.set_recording_consent(p_id uuid, p_granted boolean)
returns table (active_egress_id text)
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not app.takes_part_in_consultation(p_id) then
    raise exception using errcode = 'P0001', message = 'RES_001', detail = 'Consulta no encontrada';
  end if;
  insert into public.recording_consents (consultation_id, user_id, granted)
  values (p_id, auth.uid(), p_granted)
  on conflict (consultation_id, user_id) do update set granted = excluded.granted, updated_at = now();
  return query select r.egress_id from public.consultation_recordings r
   where r.consultation_id = p_id and r.status = 'active' and not p_granted;
end;
$$;

-- Whether both the doctor and the patient consent to record.
create or replace function app.recording_consented(p_id uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select count(*) = 2 from public.consultations c
    join public.recording_consents rc
      on rc.consultation_id = c.id and rc.user_id in (c.doctor_id, c.patient_id) and rc.granted
   where c.id = p_id and app.takes_part_in_consultation(p_id)
$$;

-- The doctor records a started egress; refused (VID_001) without both consents.
create or replace function app.record_recording_started(p_id uuid, p_egress_id text) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id uuid;
begin
  if not exists (select 1 from public.consultations c where c.id = p_id and c.doctor_id = auth.uid()) then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'Solo el médico de la consulta graba';
  end if;
  if not app.recording_consented(p_id) then
    raise exception using errcode = 'P0001', message = 'VID_001',
      detail = 'Grabar requiere el consentimiento explícito del médico y del paciente';
  end if;
  insert into public.consultation_recordings (consultation_id, egress_id, started_by)
  values (p_id, p_egress_id, auth.uid()) returning id into v_id;
  return v_id;
end;
$$;

-- The doctor (stop) or a revoking party (consent_revoked) marks a recording ended.
create or replace function app.record_recording_stopped(p_egress_id text, p_reason text) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.consultation_recordings r
     set status = 'ended', ended_at = coalesce(r.ended_at, now()), stopped_by = auth.uid(), stop_reason = p_reason
   where r.egress_id = p_egress_id and r.status = 'active'
     and app.takes_part_in_consultation(r.consultation_id);
end;
$$;

revoke all on function app.video_access(uuid), app.record_video_room(uuid, text),
  app.grant_consultation_observer(uuid, uuid), app.set_recording_consent(uuid, boolean),
  app.recording_consented(uuid), app.record_recording_started(uuid, text),
  app.record_recording_stopped(text, text) from public;
grant execute on function app.video_access(uuid), app.record_video_room(uuid, text),
  app.grant_consultation_observer(uuid, uuid), app.set_recording_consent(uuid, boolean),
  app.recording_consented(uuid), app.record_recording_started(uuid, text),
  app.record_recording_stopped(text, text) to authenticated;

-- -----------------------------------------------------------------------------
-- RLS does not apply to TRUNCATE, and TRIGGER or REFERENCES would let a caller
-- change a table's behaviour: take them back from every table above.
-- -----------------------------------------------------------------------------
revoke truncate, trigger, references on all tables in schema public from anon, authenticated;
