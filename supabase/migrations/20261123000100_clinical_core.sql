-- =============================================================================
-- Clinical core: patients and their antecedents, doctors' availability,
-- appointments, clinic histories, and the audit log of clinical data.
--
-- Who sees what (decision 5 of the contracts):
--   a patient   their own records only;
--   a doctor    their schedule, and the patients (and their records) they have
--               or had an appointment with, or registered themselves;
--   an admin    people and schedules, never clinical content.
-- =============================================================================

create extension if not exists btree_gist with schema extensions;

-- -----------------------------------------------------------------------------
-- Clinic settings
-- -----------------------------------------------------------------------------

create table public.clinic_settings (
  id boolean primary key default true check (id),
  time_zone text not null default 'America/Argentina/Buenos_Aires',
  updated_at timestamptz not null default now()
);

comment on table public.clinic_settings is
  'The clinic''s settings: one row. time_zone is where doctors'' weekly hours and chat hours are read.';

insert into public.clinic_settings (id) values (true);

create or replace function app.check_time_zone() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform now() at time zone new.time_zone;
  return new;
exception when others then
  raise exception using errcode = 'P0001', message = 'VAL_001',
    detail = 'Zona horaria desconocida', hint = 'timeZone';
end;
$$;

create trigger clinic_settings_check_time_zone
  before insert or update on public.clinic_settings
  for each row execute function app.check_time_zone();

alter table public.clinic_settings enable row level security;
revoke all on public.clinic_settings from anon;

create policy "Signed-in users can read the clinic settings"
  on public.clinic_settings for select to authenticated
  using (true);

create policy "Admins can change the clinic settings"
  on public.clinic_settings for update to authenticated
  using ((select app.is_admin()))
  with check ((select app.is_admin()));

create or replace function app.clinic_time_zone() returns text
language sql stable
security definer
set search_path = ''
as $$
  select time_zone from public.clinic_settings
$$;

-- -----------------------------------------------------------------------------
-- Patients
-- -----------------------------------------------------------------------------

create type public.gender as enum ('male', 'female');

create table public.patients (
  id uuid primary key references public.users (id) on delete cascade,
  address text not null check (char_length(address) between 5 and 300),
  gender public.gender,
  birth_date date,
  created_by uuid references public.users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.patients is
  'The clinical identity of a user whose role is patient. Deleting a patient is '
  'soft (users.deleted_at): their appointments and clinic histories stay.';

create index patients_created_by_idx on public.patients (created_by);

create trigger patients_set_updated_at
  before update on public.patients
  for each row execute function app.set_updated_at();

alter table public.patients enable row level security;
revoke all on public.patients from anon;
revoke delete on public.patients from authenticated;
-- Who registered a patient makes them that doctor's patient: nobody changes it.
revoke update on public.patients from authenticated;
grant update (address, gender, birth_date) on public.patients to authenticated;

-- -----------------------------------------------------------------------------
-- Appointments (declared here: who is whose patient depends on them)
-- -----------------------------------------------------------------------------

create type public.appointment_status as enum ('PENDING', 'CONFIRMED', 'CANCELLED', 'COMPLETED');

create table public.appointments (
  id uuid primary key default gen_random_uuid(),
  patient_id uuid not null references public.patients (id),
  doctor_id uuid not null references public.users (id),
  specialty_id uuid not null references public.specialties (id),
  reason text not null check (char_length(reason) between 3 and 1000),
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  status public.appointment_status not null default 'PENDING',
  created_by uuid references public.users (id),
  cancelled_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint appointments_ends_after_start check (ends_at > starts_at),
  constraint appointments_at_most_12_hours check (ends_at - starts_at <= interval '12 hours'),
  -- No double booking: a doctor's live appointments never overlap.
  constraint appointments_doctor_no_overlap exclude using gist (
    doctor_id with =,
    tstzrange(starts_at, ends_at) with &&
  ) where (status <> 'CANCELLED')
);

comment on table public.appointments is
  'A patient''s appointment with a doctor for a specialty. Status goes PENDING → CONFIRMED → '
  'COMPLETED; CANCELLED only from PENDING or CONFIRMED and not once it has started.';

create index appointments_doctor_starts_idx on public.appointments (doctor_id, starts_at, id);
create index appointments_doctor_patient_idx on public.appointments (doctor_id, patient_id);
create index appointments_patient_starts_idx on public.appointments (patient_id, starts_at, id);
create index appointments_starts_idx on public.appointments (starts_at, id);
create index appointments_specialty_idx on public.appointments (specialty_id);
create index appointments_created_by_idx on public.appointments (created_by);

create trigger appointments_set_updated_at
  before update on public.appointments
  for each row execute function app.set_updated_at();

alter table public.appointments enable row level security;
revoke all on public.appointments from anon;
revoke delete on public.appointments from authenticated;

-- The patients a doctor may see: those they have or had an appointment with,
-- and those they registered. Empty for anyone who is not a doctor. For lists
-- of patients; policies check one patient at a time with app.is_my_patient.
create or replace function app.my_patient_ids() returns setof uuid
language sql stable
security definer
set search_path = ''
as $$
  select a.patient_id from public.appointments a
   where a.doctor_id = auth.uid() and app.user_role() = 'doctor'
  union
  select p.id from public.patients p
   where p.created_by = auth.uid() and app.user_role() = 'doctor'
$$;

-- Whether `p_patient_id` is one of the caller's patients (the caller being a
-- doctor). One patient at a time, by index: what policies call per row,
-- where app.my_patient_ids() would read the doctor's whole history.
create or replace function app.is_my_patient(p_patient_id uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select app.user_role() = 'doctor' and (
    exists (
      select 1 from public.appointments a
       where a.doctor_id = auth.uid() and a.patient_id = p_patient_id
    )
    or exists (
      select 1 from public.patients p
       where p.id = p_patient_id and p.created_by = auth.uid()
    )
  )
$$;

create or replace function app.can_read_patient(p_patient_id uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select p_patient_id = auth.uid()
      or app.is_admin()
      or app.is_my_patient(p_patient_id)
$$;

-- Clinical content (antecedents, clinic histories) is never for admins.
create or replace function app.can_read_clinical_data(p_patient_id uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select p_patient_id = auth.uid()
      or app.is_my_patient(p_patient_id)
$$;

grant execute on function app.my_patient_ids(), app.is_my_patient(uuid), app.can_read_patient(uuid),
  app.can_read_clinical_data(uuid), app.clinic_time_zone() to authenticated;

create policy "Patients can read their own patient record"
  on public.patients for select to authenticated
  using (id = (select auth.uid()));

create policy "Admins can read every patient"
  on public.patients for select to authenticated
  using ((select app.is_admin()));

create policy "Doctors can read their patients"
  on public.patients for select to authenticated
  using (app.is_my_patient(id));

create policy "Admins can update patients"
  on public.patients for update to authenticated
  using ((select app.is_admin()))
  with check ((select app.is_admin()));

create policy "Doctors can update their patients"
  on public.patients for update to authenticated
  using (app.is_my_patient(id))
  with check (app.is_my_patient(id));

-- The doctors every signed-in user may know of (a booking form, the doctor
-- of an appointment): names and specialty only, never a phone or an email.
create or replace function app.doctor_directory()
returns table (id uuid, name text, last_name text, specialty_id uuid, specialty text, is_active boolean,
               created_at timestamptz)
language sql stable
security definer
set search_path = ''
as $$
  select u.id, u.name, u.last_name, u.specialty_id, s.name, u.is_active and u.deleted_at is null, u.created_at
    from public.users u
    join public.specialties s on s.id = u.specialty_id
   where u.role = 'doctor' and auth.uid() is not null
$$;

revoke all on function app.doctor_directory() from public;
grant execute on function app.doctor_directory() to authenticated;

-- A doctor reads and updates the user rows of their patients.
create policy "Doctors can read their patients' profiles"
  on public.users for select to authenticated
  using (role = 'patient' and app.is_my_patient(id));

create policy "Doctors can update their patients' profiles"
  on public.users for update to authenticated
  using (role = 'patient' and app.is_my_patient(id))
  with check (role = 'patient' and app.is_my_patient(id));

-- Only an admin changes a user's role, activity or deletion, whatever
-- policy let the update through.
create or replace function app.guard_user_admin_columns() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if (new.role, new.is_active, new.deleted_at, new.specialty_id)
       is distinct from (old.role, old.is_active, old.deleted_at, old.specialty_id)
     and not app.is_admin()
     and current_user = 'authenticated' then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'Solo un administrador puede cambiar el rol, la especialidad o el estado de un usuario';
  end if;
  return new;
end;
$$;

create trigger users_guard_admin_columns
  before update on public.users
  for each row execute function app.guard_user_admin_columns();

-- Registers a patient (a user with role patient and their patient record) in
-- one step. Admins may; so may a doctor, who becomes the patient's doctor.
create or replace function app.register_patient(
  p_name text,
  p_last_name text,
  p_phone text,
  p_email text,
  p_address text,
  p_gender public.gender,
  p_birth_date date,
  p_password_hash text
) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id uuid;
begin
  if app.user_role() is distinct from 'admin' and app.user_role() is distinct from 'doctor' then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'Solo un administrador o un médico puede registrar pacientes';
  end if;
  insert into public.users (role, name, last_name, phone, email)
  values ('patient', p_name, p_last_name, p_phone, lower(p_email))
  returning id into v_id;
  insert into public.patients (id, address, gender, birth_date, created_by)
  values (v_id, p_address, p_gender, p_birth_date, auth.uid());
  if p_password_hash is not null then
    if p_password_hash !~ '^\$argon2id\$' then
      raise exception using errcode = 'P0001', message = 'VAL_001', detail = 'Hash de contraseña no válido';
    end if;
    insert into private.credentials (user_id, password_hash, password_changed_at)
    values (v_id, p_password_hash, now());
  end if;
  return v_id;
end;
$$;

revoke all on function app.register_patient(text, text, text, text, text, public.gender, date, text) from public;
grant execute on function app.register_patient(text, text, text, text, text, public.gender, date, text)
  to authenticated;

-- A doctor or an admin sets a patient's password (PATCH /patients/{id}).
create or replace function app.set_patient_password(p_patient_id uuid, p_password_hash text) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not (app.is_admin() or app.is_my_patient(p_patient_id)) then
    raise exception using errcode = 'P0001', message = 'RES_001', detail = 'Paciente no encontrado';
  end if;
  if p_password_hash !~ '^\$argon2id\$' then
    raise exception using errcode = 'P0001', message = 'VAL_001', detail = 'Hash de contraseña no válido';
  end if;
  insert into private.credentials (user_id, password_hash, password_changed_at)
  values (p_patient_id, p_password_hash, now())
  on conflict (user_id) do update
    set password_hash = excluded.password_hash, password_changed_at = excluded.password_changed_at;
  perform private.end_sessions(p_patient_id, 'admin');
end;
$$;

revoke all on function app.set_patient_password(uuid, text) from public;
grant execute on function app.set_patient_password(uuid, text) to authenticated;

-- -----------------------------------------------------------------------------
-- Antecedents
-- -----------------------------------------------------------------------------

create table public.patient_antecedents (
  patient_id uuid primary key references public.patients (id) on delete cascade,
  allergies text[] not null default '{}',
  medications text[] not null default '{}',
  medical_history text[] not null default '{}',
  family_history text[] not null default '{}',
  updated_by uuid references public.users (id),
  updated_at timestamptz not null default now(),
  constraint patient_antecedents_bounded check (
    cardinality(allergies) <= 100 and cardinality(medications) <= 100
    and cardinality(medical_history) <= 100 and cardinality(family_history) <= 100
  )
);

comment on table public.patient_antecedents is
  'A patient''s medical antecedents: allergies, current medications, personal and family history. '
  'Clinical content: never readable by admins.';

create index patient_antecedents_updated_by_idx on public.patient_antecedents (updated_by);

alter table public.patient_antecedents enable row level security;
revoke all on public.patient_antecedents from anon;
revoke delete on public.patient_antecedents from authenticated;

create policy "Patients and their doctors can read antecedents"
  on public.patient_antecedents for select to authenticated
  using ((select app.can_read_clinical_data(patient_id)));

create policy "Doctors can record their patients' antecedents"
  on public.patient_antecedents for insert to authenticated
  with check (app.is_my_patient(patient_id) and updated_by = (select auth.uid()));

create policy "Doctors can update their patients' antecedents"
  on public.patient_antecedents for update to authenticated
  using (app.is_my_patient(patient_id))
  with check (app.is_my_patient(patient_id) and updated_by = (select auth.uid()));

-- -----------------------------------------------------------------------------
-- Doctors' availability
-- -----------------------------------------------------------------------------

create table public.doctor_weekly_hours (
  id uuid primary key default gen_random_uuid(),
  doctor_id uuid not null references public.users (id) on delete cascade,
  weekday smallint not null check (weekday between 1 and 7),
  start_time time not null,
  end_time time not null,
  slot_minutes integer not null default 30 check (slot_minutes between 5 and 240),
  created_at timestamptz not null default now(),
  constraint doctor_weekly_hours_ends_after_start check (end_time > start_time),
  constraint doctor_weekly_hours_no_overlap exclude using gist (
    doctor_id with =,
    weekday with =,
    tsrange('2000-01-01'::date + start_time, '2000-01-01'::date + end_time) with &&
  )
);

comment on table public.doctor_weekly_hours is
  'A doctor''s recurring hours: ISO weekday (1 = Monday) and local times in the clinic''s time zone.';

create index doctor_weekly_hours_doctor_idx on public.doctor_weekly_hours (doctor_id, weekday);

create type public.availability_exception_kind as enum ('unavailable', 'available');

create table public.doctor_availability_exceptions (
  id uuid primary key default gen_random_uuid(),
  doctor_id uuid not null references public.users (id) on delete cascade,
  kind public.availability_exception_kind not null,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  note text check (char_length(note) <= 300),
  created_at timestamptz not null default now(),
  constraint doctor_availability_exceptions_ends_after_start check (ends_at > starts_at),
  constraint doctor_availability_exceptions_at_most_31_days check (ends_at - starts_at <= interval '31 days')
);

comment on table public.doctor_availability_exceptions is
  'One-off changes to a doctor''s hours: days off (unavailable) and extra hours (available).';

create index doctor_availability_exceptions_doctor_idx
  on public.doctor_availability_exceptions (doctor_id, starts_at);

alter table public.doctor_weekly_hours enable row level security;
alter table public.doctor_availability_exceptions enable row level security;
revoke all on public.doctor_weekly_hours, public.doctor_availability_exceptions from anon;

create policy "Signed-in users can read doctors' weekly hours"
  on public.doctor_weekly_hours for select to authenticated
  using (true);

create policy "Doctors and admins can manage weekly hours"
  on public.doctor_weekly_hours for all to authenticated
  using (doctor_id = (select auth.uid()) or (select app.is_admin()))
  with check (doctor_id = (select auth.uid()) or (select app.is_admin()));

create policy "Signed-in users can read availability exceptions"
  on public.doctor_availability_exceptions for select to authenticated
  using (true);

create policy "Doctors and admins can manage availability exceptions"
  on public.doctor_availability_exceptions for all to authenticated
  using (doctor_id = (select auth.uid()) or (select app.is_admin()))
  with check (doctor_id = (select auth.uid()) or (select app.is_admin()));

create or replace function app.require_doctor() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not exists (
    select 1 from public.users
     where id = new.doctor_id and role = 'doctor' and is_active and deleted_at is null
  ) then
    raise exception using errcode = 'P0001', message = 'RES_001',
      detail = 'Médico no encontrado', hint = 'doctorId';
  end if;
  return new;
end;
$$;

create trigger doctor_weekly_hours_require_doctor
  before insert or update on public.doctor_weekly_hours
  for each row execute function app.require_doctor();

create trigger doctor_availability_exceptions_require_doctor
  before insert or update on public.doctor_availability_exceptions
  for each row execute function app.require_doctor();

-- Whether [p_start, p_end) lies within the doctor's hours. A doctor with no
-- availability defined at all takes any time.
create or replace function app.within_availability(p_doctor_id uuid, p_start timestamptz, p_end timestamptz)
returns boolean
language sql stable
security definer
set search_path = ''
as $$
  with tz as (select app.clinic_time_zone() as name)
  select
    (
      not exists (select 1 from public.doctor_weekly_hours where doctor_id = p_doctor_id)
      and not exists (select 1 from public.doctor_availability_exceptions where doctor_id = p_doctor_id)
    )
    or (
      (
        exists (
          select 1
            from public.doctor_weekly_hours h, tz
           where h.doctor_id = p_doctor_id
             and h.weekday = extract(isodow from (p_start at time zone tz.name))
             and (p_start at time zone tz.name)::date = (p_end at time zone tz.name - interval '1 microsecond')::date
             and (p_start at time zone tz.name)::time >= h.start_time
             and (p_end at time zone tz.name - interval '1 microsecond')::time < h.end_time
        )
        or exists (
          select 1 from public.doctor_availability_exceptions e
           where e.doctor_id = p_doctor_id and e.kind = 'available'
             and e.starts_at <= p_start and e.ends_at >= p_end
        )
      )
      and not exists (
        select 1 from public.doctor_availability_exceptions e
         where e.doctor_id = p_doctor_id and e.kind = 'unavailable'
           and tstzrange(e.starts_at, e.ends_at) && tstzrange(p_start, p_end)
      )
    )
$$;

-- A doctor's free slots between two instants: their hours, cut into slots,
-- less days off and booked appointments. Answers times only, never who booked.
create or replace function app.doctor_free_slots(p_doctor_id uuid, p_from timestamptz, p_to timestamptz)
returns table (starts_at timestamptz, ends_at timestamptz)
language sql stable
security definer
set search_path = ''
as $$
  with tz as (select app.clinic_time_zone() as name),
  days as (
    select d::date as day
      from tz, generate_series(
        (p_from at time zone tz.name)::date,
        (p_to at time zone tz.name)::date,
        interval '1 day'
      ) d
  ),
  windows as (
    select (days.day + h.start_time) at time zone tz.name as window_start,
           (days.day + h.end_time) at time zone tz.name as window_end,
           h.slot_minutes
      from days
      cross join tz
      join public.doctor_weekly_hours h
        on h.doctor_id = p_doctor_id and h.weekday = extract(isodow from days.day)
    union all
    select e.starts_at, e.ends_at, 30
      from public.doctor_availability_exceptions e
     where e.doctor_id = p_doctor_id and e.kind = 'available'
       and e.ends_at > p_from and e.starts_at < p_to
  ),
  slots as (
    select s as starts_at, s + make_interval(mins => w.slot_minutes) as ends_at
      from windows w,
           generate_series(w.window_start, w.window_end - make_interval(mins => w.slot_minutes),
                           make_interval(mins => w.slot_minutes)) s
  )
  select distinct slots.starts_at, slots.ends_at
    from slots
   where slots.starts_at >= greatest(p_from, now())
     and slots.ends_at <= p_to
     and not exists (
       select 1 from public.doctor_availability_exceptions e
        where e.doctor_id = p_doctor_id and e.kind = 'unavailable'
          and tstzrange(e.starts_at, e.ends_at) && tstzrange(slots.starts_at, slots.ends_at)
     )
     and not exists (
       select 1 from public.appointments a
        where a.doctor_id = p_doctor_id and a.status <> 'CANCELLED'
          and tstzrange(a.starts_at, a.ends_at) && tstzrange(slots.starts_at, slots.ends_at)
     )
   order by slots.starts_at
$$;

grant execute on function app.within_availability(uuid, timestamptz, timestamptz),
  app.doctor_free_slots(uuid, timestamptz, timestamptz) to authenticated;

-- -----------------------------------------------------------------------------
-- Appointment rules
-- -----------------------------------------------------------------------------

create policy "Patients can read their own appointments"
  on public.appointments for select to authenticated
  using (patient_id = (select auth.uid()));

create policy "Doctors can read their own schedule"
  on public.appointments for select to authenticated
  using (doctor_id = (select auth.uid()));

create policy "Admins can read every appointment"
  on public.appointments for select to authenticated
  using ((select app.is_admin()));

create policy "Patients can book for themselves"
  on public.appointments for insert to authenticated
  with check (patient_id = (select auth.uid()) and created_by = (select auth.uid()));

create policy "Doctors can book into their own schedule"
  on public.appointments for insert to authenticated
  with check (
    doctor_id = (select auth.uid())
    and created_by = (select auth.uid())
    and patient_id in (select id from public.patients)
  );

create policy "Admins can book any appointment"
  on public.appointments for insert to authenticated
  with check ((select app.is_admin()) and created_by = (select auth.uid()));

create policy "Patients can change their own appointments"
  on public.appointments for update to authenticated
  using (patient_id = (select auth.uid()))
  with check (patient_id = (select auth.uid()));

create policy "Doctors can change their own appointments"
  on public.appointments for update to authenticated
  using (doctor_id = (select auth.uid()))
  with check (doctor_id = (select auth.uid()));

create policy "Admins can change any appointment"
  on public.appointments for update to authenticated
  using ((select app.is_admin()))
  with check ((select app.is_admin()));

create or replace function app.check_appointment() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_role public.app_role := app.user_role();
begin
  if tg_op = 'INSERT' then
    if not exists (
      select 1 from public.users
       where id = new.doctor_id and role = 'doctor' and is_active and deleted_at is null
    ) then
      raise exception using errcode = 'P0001', message = 'RES_001',
        detail = 'Médico no encontrado', hint = 'doctorId';
    end if;
    if not exists (
      select 1 from public.users u join public.patients p on p.id = u.id
       where u.id = new.patient_id and u.is_active and u.deleted_at is null
    ) then
      raise exception using errcode = 'P0001', message = 'RES_001',
        detail = 'Paciente no encontrado', hint = 'patientId';
    end if;
    if new.status <> 'PENDING' and v_role = 'patient' then
      raise exception using errcode = 'P0001', message = 'APP_002',
        detail = 'Una cita nueva empieza pendiente', hint = 'status';
    end if;
    if new.starts_at < now() then
      raise exception using errcode = 'P0001', message = 'VAL_001',
        detail = 'La cita no puede empezar en el pasado', hint = 'startAppointment';
    end if;
  else
    if new.patient_id <> old.patient_id or new.doctor_id <> old.doctor_id
       or new.specialty_id <> old.specialty_id or new.created_by is distinct from old.created_by then
      raise exception using errcode = 'P0001', message = 'VAL_001',
        detail = 'El paciente, el médico y la especialidad de una cita no cambian';
    end if;

    if old.status in ('CANCELLED', 'COMPLETED') then
      raise exception using errcode = 'P0001', message = 'APP_002',
        detail = format('Una cita %s ya no cambia', old.status), hint = 'status';
    end if;

    if new.status <> old.status then
      if not (
        (old.status = 'PENDING' and new.status in ('CONFIRMED', 'CANCELLED'))
        or (old.status = 'CONFIRMED' and new.status in ('COMPLETED', 'CANCELLED'))
      ) then
        raise exception using errcode = 'P0001', message = 'APP_002',
          detail = format('Una cita %s no puede pasar a %s', old.status, new.status), hint = 'status';
      end if;
      if new.status = 'CANCELLED' and old.starts_at <= now() then
        raise exception using errcode = 'P0001', message = 'APP_002',
          detail = 'Una cita que ya empezó no puede cancelarse', hint = 'status';
      end if;
      if new.status in ('CONFIRMED', 'COMPLETED') and v_role = 'patient' then
        raise exception using errcode = 'P0001', message = 'AUTH_002',
          detail = 'Solo el médico o un administrador confirma o completa una cita';
      end if;
      if new.status = 'CANCELLED' then
        new.cancelled_at := now();
      end if;
    end if;

    if (new.starts_at, new.ends_at) is distinct from (old.starts_at, old.ends_at) then
      if old.status not in ('PENDING', 'CONFIRMED') or new.status = 'CANCELLED' then
        raise exception using errcode = 'P0001', message = 'APP_002',
          detail = 'Solo una cita pendiente o confirmada puede reprogramarse', hint = 'startAppointment';
      end if;
      if old.starts_at <= now() or new.starts_at < now() then
        raise exception using errcode = 'P0001', message = 'APP_002',
          detail = 'Una cita no se reprograma una vez empezada ni hacia el pasado', hint = 'startAppointment';
      end if;
    end if;
  end if;

  if new.status in ('PENDING', 'CONFIRMED')
     and (tg_op = 'INSERT' or (new.starts_at, new.ends_at) is distinct from (old.starts_at, old.ends_at))
     and not app.within_availability(new.doctor_id, new.starts_at, new.ends_at) then
    raise exception using errcode = 'P0001', message = 'APP_003',
      detail = 'El horario está fuera de la disponibilidad del médico', hint = 'startAppointment';
  end if;
  return new;
end;
$$;

create trigger appointments_check
  before insert or update on public.appointments
  for each row execute function app.check_appointment();

-- -----------------------------------------------------------------------------
-- Clinic histories
-- -----------------------------------------------------------------------------

create table public.clinic_histories (
  id uuid primary key default gen_random_uuid(),
  appointment_id uuid not null references public.appointments (id),
  patient_id uuid not null references public.patients (id),
  doctor_id uuid not null references public.users (id),
  specialty_id uuid not null references public.specialties (id),
  consultation_reason text not null check (char_length(consultation_reason) between 10 and 2000),
  symptoms text[] not null check (cardinality(symptoms) between 1 and 100),
  treatment text not null check (char_length(treatment) between 10 and 5000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint clinic_histories_appointment_id_key unique (appointment_id)
);

comment on table public.clinic_histories is
  'The doctor''s record of an appointment: one per appointment, written by that appointment''s doctor.';

create index clinic_histories_patient_idx on public.clinic_histories (patient_id, created_at, id);
create index clinic_histories_doctor_idx on public.clinic_histories (doctor_id, created_at, id);
create index clinic_histories_specialty_idx on public.clinic_histories (specialty_id);

create table public.clinic_history_diagnostics (
  id uuid primary key default gen_random_uuid(),
  clinic_history_id uuid not null references public.clinic_histories (id) on delete cascade,
  position integer not null,
  name text not null check (char_length(name) between 1 and 300),
  description text not null check (char_length(description) between 1 and 2000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.clinic_history_diagnostics is 'Diagnoses of a clinic history, in the order given.';

create table public.clinic_history_physical_exams (
  id uuid primary key default gen_random_uuid(),
  clinic_history_id uuid not null references public.clinic_histories (id) on delete cascade,
  position integer not null,
  name text not null check (char_length(name) between 1 and 300),
  description text not null check (char_length(description) between 1 and 2000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.clinic_history_physical_exams is 'Physical examinations of a clinic history.';

create table public.clinic_history_vital_signs (
  id uuid primary key default gen_random_uuid(),
  clinic_history_id uuid not null references public.clinic_histories (id) on delete cascade,
  position integer not null,
  name text not null check (char_length(name) between 1 and 200),
  value text not null check (char_length(value) between 1 and 100),
  unit text not null check (char_length(unit) between 1 and 50),
  measurement text not null check (char_length(measurement) between 1 and 200),
  description text check (char_length(description) <= 1000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.clinic_history_vital_signs is 'Vital signs taken during the appointment.';

create table public.prescriptions (
  id uuid primary key default gen_random_uuid(),
  clinic_history_id uuid not null references public.clinic_histories (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 300),
  description text not null check (char_length(description) between 1 and 2000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint prescriptions_clinic_history_id_key unique (clinic_history_id)
);

comment on table public.prescriptions is 'The prescription of a clinic history (at most one).';

create table public.prescription_medications (
  id uuid primary key default gen_random_uuid(),
  prescription_id uuid not null references public.prescriptions (id) on delete cascade,
  position integer not null,
  name text not null check (char_length(name) between 1 and 300),
  quantity integer not null check (quantity >= 1),
  unit text not null check (char_length(unit) between 1 and 50),
  frequency text not null check (char_length(frequency) between 1 and 200),
  duration text not null check (char_length(duration) between 1 and 200),
  indications text not null check (char_length(indications) between 1 and 2000),
  administration_route text not null check (char_length(administration_route) between 1 and 100),
  description text check (char_length(description) <= 1000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.prescription_medications is 'The medications of a prescription (at least one).';

create index clinic_history_diagnostics_history_idx on public.clinic_history_diagnostics (clinic_history_id, position);
create index clinic_history_physical_exams_history_idx on public.clinic_history_physical_exams (clinic_history_id, position);
create index clinic_history_vital_signs_history_idx on public.clinic_history_vital_signs (clinic_history_id, position);
create index prescription_medications_prescription_idx on public.prescription_medications (prescription_id, position);

create trigger clinic_histories_set_updated_at
  before update on public.clinic_histories
  for each row execute function app.set_updated_at();

alter table public.clinic_histories enable row level security;
alter table public.clinic_history_diagnostics enable row level security;
alter table public.clinic_history_physical_exams enable row level security;
alter table public.clinic_history_vital_signs enable row level security;
alter table public.prescriptions enable row level security;
alter table public.prescription_medications enable row level security;
revoke all on public.clinic_histories, public.clinic_history_diagnostics, public.clinic_history_physical_exams,
  public.clinic_history_vital_signs, public.prescriptions, public.prescription_medications from anon;
revoke update, delete on public.clinic_history_diagnostics, public.clinic_history_physical_exams,
  public.clinic_history_vital_signs, public.prescriptions, public.prescription_medications from authenticated;
revoke delete on public.clinic_histories from authenticated;

-- Whether the caller may read the clinic history `p_id` (its patient, or a
-- doctor of its patient); used by the policies of its parts.
create or replace function app.can_read_clinic_history(p_id uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.clinic_histories h
     where h.id = p_id and app.can_read_clinical_data(h.patient_id)
  )
$$;

-- Whether the caller wrote (is the doctor of) the clinic history `p_id`.
create or replace function app.wrote_clinic_history(p_id uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.clinic_histories h where h.id = p_id and h.doctor_id = auth.uid()
  )
$$;

create or replace function app.wrote_prescription(p_id uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.prescriptions p
      join public.clinic_histories h on h.id = p.clinic_history_id
     where p.id = p_id and h.doctor_id = auth.uid()
  )
$$;

create or replace function app.can_read_prescription(p_id uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.prescriptions p
     where p.id = p_id and app.can_read_clinic_history(p.clinic_history_id)
  )
$$;

grant execute on function app.can_read_clinic_history(uuid), app.wrote_clinic_history(uuid),
  app.wrote_prescription(uuid), app.can_read_prescription(uuid) to authenticated;

create policy "Patients and their doctors can read clinic histories"
  on public.clinic_histories for select to authenticated
  using ((select app.can_read_clinical_data(patient_id)));

create policy "The appointment's doctor can write its clinic history"
  on public.clinic_histories for insert to authenticated
  with check (
    doctor_id = (select auth.uid())
    and exists (
      select 1 from public.appointments a
       where a.id = appointment_id and a.doctor_id = (select auth.uid())
         and a.patient_id = clinic_histories.patient_id and a.specialty_id = clinic_histories.specialty_id
         and a.status <> 'CANCELLED'
    )
  );

create policy "Readers of a clinic history can read its diagnostics"
  on public.clinic_history_diagnostics for select to authenticated
  using ((select app.can_read_clinic_history(clinic_history_id)));

create policy "The doctor of a clinic history can add diagnostics"
  on public.clinic_history_diagnostics for insert to authenticated
  with check ((select app.wrote_clinic_history(clinic_history_id)));

create policy "Readers of a clinic history can read its physical exams"
  on public.clinic_history_physical_exams for select to authenticated
  using ((select app.can_read_clinic_history(clinic_history_id)));

create policy "The doctor of a clinic history can add physical exams"
  on public.clinic_history_physical_exams for insert to authenticated
  with check ((select app.wrote_clinic_history(clinic_history_id)));

create policy "Readers of a clinic history can read its vital signs"
  on public.clinic_history_vital_signs for select to authenticated
  using ((select app.can_read_clinic_history(clinic_history_id)));

create policy "The doctor of a clinic history can add vital signs"
  on public.clinic_history_vital_signs for insert to authenticated
  with check ((select app.wrote_clinic_history(clinic_history_id)));

create policy "Readers of a clinic history can read its prescription"
  on public.prescriptions for select to authenticated
  using ((select app.can_read_clinic_history(clinic_history_id)));

create policy "The doctor of a clinic history can write its prescription"
  on public.prescriptions for insert to authenticated
  with check ((select app.wrote_clinic_history(clinic_history_id)));

create policy "Readers of a prescription can read its medications"
  on public.prescription_medications for select to authenticated
  using ((select app.can_read_prescription(prescription_id)));

create policy "The doctor of a prescription can add medications"
  on public.prescription_medications for insert to authenticated
  with check ((select app.wrote_prescription(prescription_id)));

-- Writes a whole clinic history from its JSON document in one statement, as
-- the caller (RLS applies to every insert): any invalid part, nothing written.
create or replace function app.create_clinic_history(p_document jsonb) returns uuid
language plpgsql
set search_path = ''
as $$
declare
  v_appointment public.appointments;
  v_history_id uuid;
  v_prescription_id uuid;
begin
  select * into v_appointment from public.appointments
   where id = (p_document ->> 'appointmentId')::uuid;
  if not found then
    raise exception using errcode = 'P0001', message = 'RES_001',
      detail = 'Cita no encontrada', hint = 'appointmentId';
  end if;
  if v_appointment.doctor_id <> auth.uid() then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'Solo el médico de la cita escribe su historia clínica';
  end if;
  if v_appointment.status = 'CANCELLED' then
    raise exception using errcode = 'P0001', message = 'APP_002',
      detail = 'Una cita cancelada no lleva historia clínica', hint = 'appointmentId';
  end if;

  insert into public.clinic_histories (
    appointment_id, patient_id, doctor_id, specialty_id, consultation_reason, symptoms, treatment
  ) values (
    v_appointment.id, v_appointment.patient_id, v_appointment.doctor_id, v_appointment.specialty_id,
    p_document ->> 'consultationReason',
    array(select jsonb_array_elements_text(p_document -> 'symptoms')),
    p_document ->> 'treatment'
  ) returning id into v_history_id;

  insert into public.clinic_history_diagnostics (clinic_history_id, position, name, description)
  select v_history_id, d.ordinality, d.value ->> 'name', d.value ->> 'description'
    from jsonb_array_elements(coalesce(p_document -> 'diagnostics', '[]')) with ordinality d;

  insert into public.clinic_history_physical_exams (clinic_history_id, position, name, description)
  select v_history_id, e.ordinality, e.value ->> 'name', e.value ->> 'description'
    from jsonb_array_elements(coalesce(p_document -> 'physicalExams', '[]')) with ordinality e;

  insert into public.clinic_history_vital_signs (
    clinic_history_id, position, name, value, unit, measurement, description
  )
  select v_history_id, v.ordinality, v.value ->> 'name', v.value ->> 'value', v.value ->> 'unit',
         v.value ->> 'measurement', v.value ->> 'description'
    from jsonb_array_elements(coalesce(p_document -> 'vitalSigns', '[]')) with ordinality v;

  if jsonb_typeof(p_document -> 'prescription') = 'object' then
    if jsonb_array_length(coalesce(p_document #> '{prescription,medications}', '[]')) = 0 then
      raise exception using errcode = 'P0001', message = 'VAL_001',
        detail = 'Una receta lleva al menos un medicamento', hint = 'prescription.medications';
    end if;
    insert into public.prescriptions (clinic_history_id, name, description)
    values (v_history_id, p_document #>> '{prescription,name}', p_document #>> '{prescription,description}')
    returning id into v_prescription_id;

    insert into public.prescription_medications (
      prescription_id, position, name, quantity, unit, frequency, duration, indications,
      administration_route, description
    )
    select v_prescription_id, m.ordinality, m.value ->> 'name', (m.value ->> 'quantity')::integer,
           m.value ->> 'unit', m.value ->> 'frequency', m.value ->> 'duration', m.value ->> 'indications',
           m.value ->> 'administrationRoute', m.value ->> 'description'
      from jsonb_array_elements(p_document #> '{prescription,medications}') with ordinality m;
  end if;
  return v_history_id;
end;
$$;

grant execute on function app.create_clinic_history(jsonb) to authenticated;

-- The contract's ClinicHistoryResponse of one clinic history, as the caller
-- may read it.
create or replace function app.clinic_history_document(h public.clinic_histories) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', h.id,
    'patientId', h.patient_id,
    'doctorId', h.doctor_id,
    'specialtyId', h.specialty_id,
    'appointmentId', h.appointment_id,
    'consultationReason', h.consultation_reason,
    'symptoms', to_jsonb(h.symptoms),
    'treatment', h.treatment,
    'diagnostics', coalesce((
      select jsonb_agg(jsonb_build_object('id', d.id, 'name', d.name, 'description', d.description,
               'createdAt', d.created_at, 'updatedAt', d.updated_at) order by d.position)
        from public.clinic_history_diagnostics d where d.clinic_history_id = h.id), '[]'),
    'physicalExams', coalesce((
      select jsonb_agg(jsonb_build_object('id', e.id, 'name', e.name, 'description', e.description,
               'createdAt', e.created_at, 'updatedAt', e.updated_at) order by e.position)
        from public.clinic_history_physical_exams e where e.clinic_history_id = h.id), '[]'),
    'vitalSigns', coalesce((
      select jsonb_agg(jsonb_strip_nulls(jsonb_build_object('id', v.id, 'name', v.name,
               'description', v.description, 'value', v.value, 'unit', v.unit,
               'measurement', v.measurement, 'createdAt', v.created_at, 'updatedAt', v.updated_at))
               order by v.position)
        from public.clinic_history_vital_signs v where v.clinic_history_id = h.id), '[]'),
    'prescription', (
      select jsonb_build_object('id', p.id, 'name', p.name, 'description', p.description,
        'medications', coalesce((
          select jsonb_agg(jsonb_strip_nulls(jsonb_build_object('id', m.id, 'name', m.name,
                   'description', m.description, 'quantity', m.quantity, 'unit', m.unit,
                   'frequency', m.frequency, 'duration', m.duration, 'indications', m.indications,
                   'administrationRoute', m.administration_route, 'createdAt', m.created_at,
                   'updatedAt', m.updated_at)) order by m.position)
            from public.prescription_medications m where m.prescription_id = p.id), '[]'),
        'createdAt', p.created_at, 'updatedAt', p.updated_at)
        from public.prescriptions p where p.clinic_history_id = h.id),
    'patient', (select jsonb_build_object('id', u.id, 'name', u.name, 'lastName', u.last_name)
                  from public.users u where u.id = h.patient_id),
    'doctor', (select jsonb_build_object('id', d.id, 'name', d.name, 'lastName', d.last_name,
                        'specialty', d.specialty)
                 from app.doctor_directory() d
                where d.id = h.doctor_id),
    'createdAt', h.created_at,
    'updatedAt', h.updated_at
  )
$$;

grant execute on function app.clinic_history_document(public.clinic_histories) to authenticated;

-- -----------------------------------------------------------------------------
-- Audit log of clinical data
-- -----------------------------------------------------------------------------

create table public.audit_events (
  id uuid primary key default gen_random_uuid(),
  occurred_at timestamptz not null default now(),
  actor_id uuid references public.users (id),
  actor_role public.app_role,
  action text not null check (action in ('read', 'create', 'update', 'delete')),
  resource_type text not null check (resource_type in ('patient', 'antecedents', 'clinic_history')),
  resource_id uuid not null
);

comment on table public.audit_events is
  'Who read or wrote which clinical record, and when; never the content. Written in the '
  'same transaction as the access; readable by admins.';

create index audit_events_occurred_idx on public.audit_events (occurred_at, id);
create index audit_events_actor_idx on public.audit_events (actor_id, occurred_at, id);
create index audit_events_resource_idx on public.audit_events (resource_id, occurred_at, id);

alter table public.audit_events enable row level security;
revoke all on public.audit_events from anon;
revoke insert, update, delete on public.audit_events from authenticated;

create policy "Admins can read the audit log"
  on public.audit_events for select to authenticated
  using ((select app.is_admin()));

-- Records an access by the caller. The only way to write the log.
create or replace function app.audit(p_action text, p_resource_type text, p_resource_ids uuid[]) returns void
language sql
security definer
set search_path = ''
as $$
  insert into public.audit_events (actor_id, actor_role, action, resource_type, resource_id)
  select auth.uid(), app.user_role(), p_action, p_resource_type, r
    from unnest(p_resource_ids) r
$$;

revoke all on function app.audit(text, text, uuid[]) from public;
grant execute on function app.audit(text, text, uuid[]) to authenticated;

create or replace function app.audit_write() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  -- The record's id; for antecedents, the patient's (their primary key).
  v_row jsonb := case when tg_op = 'DELETE' then to_jsonb(old) else to_jsonb(new) end;
  v_id uuid := coalesce(v_row ->> 'id', v_row ->> 'patient_id')::uuid;
begin
  perform app.audit(
    case tg_op when 'INSERT' then 'create' when 'UPDATE' then 'update' else 'delete' end,
    tg_argv[0],
    array[v_id]
  );
  return null;
end;
$$;

create trigger patients_audit after insert or update or delete on public.patients
  for each row execute function app.audit_write('patient');
create trigger patient_antecedents_audit after insert or update or delete on public.patient_antecedents
  for each row execute function app.audit_write('antecedents');
create trigger clinic_histories_audit after insert or update or delete on public.clinic_histories
  for each row execute function app.audit_write('clinic_history');

-- -----------------------------------------------------------------------------
-- RLS does not apply to TRUNCATE, and TRIGGER or REFERENCES would let a caller
-- change a table's behaviour: Supabase's default grants give all three to
-- the API roles, so take them back from every table above.
-- -----------------------------------------------------------------------------
revoke truncate, trigger, references on all tables in schema public from anon, authenticated;
