-- =============================================================================
-- Consultations, and who may use their Realtime channel and their files.
--
-- A consultation is the live side of an appointment (one per appointment).
-- Its private Realtime topic is `consultation:{id}`; its files live in the
-- Storage bucket `consultation-files` under `{consultationId}/{fileId}`.
-- Only the consultation's doctor and patient may use either; an admin may
-- read its operational state, never its channel or files.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Consultations
-- -----------------------------------------------------------------------------

create type public.consultation_status as enum ('waiting', 'in_progress', 'closed');

create table public.consultations (
  id uuid primary key default gen_random_uuid(),
  appointment_id uuid not null references public.appointments (id),
  doctor_id uuid not null references public.users (id),
  patient_id uuid not null references public.patients (id),
  status public.consultation_status not null default 'waiting',
  created_by uuid references public.users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  closed_at timestamptz,
  constraint consultations_appointment_id_key unique (appointment_id)
);

comment on table public.consultations is
  'The live consultation of an appointment: its status (waiting, in_progress, closed), its '
  'Realtime channel consultation:{id} and its files. Only its doctor and patient take part.';

create index consultations_doctor_idx on public.consultations (doctor_id, created_at, id);
create index consultations_patient_idx on public.consultations (patient_id, created_at, id);
create index consultations_created_by_idx on public.consultations (created_by);

create trigger consultations_set_updated_at
  before update on public.consultations
  for each row execute function app.set_updated_at();

alter table public.consultations enable row level security;
revoke all on public.consultations from anon;
revoke delete on public.consultations from authenticated;

create policy "Doctors and patients can read their consultations"
  on public.consultations for select to authenticated
  using (doctor_id = (select auth.uid()) or patient_id = (select auth.uid()));

create policy "Admins can read every consultation's state"
  on public.consultations for select to authenticated
  using ((select app.is_admin()));

-- Whether the caller takes part in the consultation `p_id` (its doctor or patient).
create or replace function app.takes_part_in_consultation(p_id uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.consultations c
     where c.id = p_id and (c.doctor_id = auth.uid() or c.patient_id = auth.uid())
  )
$$;

revoke all on function app.takes_part_in_consultation(uuid) from public;
grant execute on function app.takes_part_in_consultation(uuid) to authenticated;

-- -----------------------------------------------------------------------------
-- Realtime: who may join (read) and send on (write) a private topic.
-- Supabase Realtime checks these policies on realtime.messages, as the
-- joining user, with realtime.topic() set to the channel's topic.
-- -----------------------------------------------------------------------------

-- The id in a topic `<kind>:<uuid>`, or null when the topic is not of that kind.
create or replace function app.topic_id(p_topic text, p_kind text) returns uuid
language sql immutable
set search_path = ''
as $$
  select case
    when p_topic ~ ('^' || p_kind || ':[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
    then substr(p_topic, length(p_kind) + 2)::uuid
  end
$$;

grant execute on function app.topic_id(text, text) to authenticated;

create policy "Consultation members can receive on its channel"
  on realtime.messages for select to authenticated
  using (
    extension in ('broadcast', 'presence')
    and (select app.takes_part_in_consultation(app.topic_id(realtime.topic(), 'consultation')))
  );

create policy "Consultation members can send on its channel"
  on realtime.messages for insert to authenticated
  with check (
    extension in ('broadcast', 'presence')
    and (select app.takes_part_in_consultation(app.topic_id(realtime.topic(), 'consultation')))
  );

-- -----------------------------------------------------------------------------
-- Storage: the consultation files bucket
-- -----------------------------------------------------------------------------

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values (
  'consultation-files',
  'consultation-files',
  false,
  10485760,
  array['application/pdf', 'image/jpeg', 'image/png', 'image/webp', 'text/plain']
)
on conflict (id) do update set
  file_size_limit = excluded.file_size_limit,
  allowed_mime_types = excluded.allowed_mime_types;

create policy "Consultation members can read its files"
  on storage.objects for select to authenticated
  using (
    bucket_id = 'consultation-files'
    and (select app.takes_part_in_consultation(app.topic_id('c:' || (storage.foldername(name))[1], 'c')))
  );

create policy "Consultation members can upload its files"
  on storage.objects for insert to authenticated
  with check (
    bucket_id = 'consultation-files'
    and (select app.takes_part_in_consultation(app.topic_id('c:' || (storage.foldername(name))[1], 'c')))
  );

create policy "Consultation members can delete its files"
  on storage.objects for delete to authenticated
  using (
    bucket_id = 'consultation-files'
    and (select app.takes_part_in_consultation(app.topic_id('c:' || (storage.foldername(name))[1], 'c')))
  );

-- -----------------------------------------------------------------------------
-- RLS does not apply to TRUNCATE, and TRIGGER or REFERENCES would let a caller
-- change a table's behaviour: Supabase's default grants give all three to
-- the API roles, so take them back from every table above.
-- -----------------------------------------------------------------------------
revoke truncate, trigger, references on all tables in schema public from anon, authenticated;
