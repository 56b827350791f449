-- Clinical and private free text, kept by the database from those who may
-- not read it (issue 15, item 9):
--
-- - An appointment's reason ("dolor de cabeza persistente") is clinical
--   content: decision 5 keeps it from admins. Only the appointment's patient
--   and doctor read it.
-- - A doctor's availability exceptions are everyone's to read as busy (or
--   extra) time, but their note ("operación de rodilla") is private: only the
--   doctor and admins read it.
--
-- Row-level security chooses rows, not columns, so the columns are taken away
-- from `authenticated` (column privileges: a direct `select reason` is
-- refused, whatever the claims) and handed back through security-definer
-- functions that answer the text only to those who may read it,
-- and null to everyone else. Writing stays as it was (an admin books an
-- appointment with its reason; they just do not read it back).
--
-- A column added to these tables later must be granted to `authenticated`
-- by its migration: column grants do not cover new columns.

revoke select on public.appointments from authenticated;
grant select (
  id, patient_id, doctor_id, specialty_id, starts_at, ends_at, status, created_by, cancelled_at,
  created_at, updated_at
) on public.appointments to authenticated;

-- The reasons of appointments `p_ids` that the caller may read: those whose
-- patient or doctor they are. One call answers a whole page of a list.
-- (PL/pgSQL: its plan is cached for the session, where a SQL function's is made on every call.)
create or replace function app.appointment_reasons(p_ids uuid[]) returns table (id uuid, reason text)
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  return query
    select a.id, a.reason from public.appointments a
     where a.id = any (p_ids) and (a.patient_id = auth.uid() or a.doctor_id = auth.uid());
end;
$$;

-- The same for one appointment: its reason, or null.
create or replace function app.appointment_reason(p_id uuid) returns text
language sql stable
security definer
set search_path = ''
as $$
  select r.reason from app.appointment_reasons(array[p_id]) r
$$;

revoke all on function app.appointment_reasons(uuid[]), app.appointment_reason(uuid) from public;
-- service_role reads the column anyway; granted so that the same queries run as either.
grant execute on function app.appointment_reasons(uuid[]), app.appointment_reason(uuid)
  to authenticated, service_role;

revoke select on public.doctor_availability_exceptions from authenticated;
grant select (id, doctor_id, kind, starts_at, ends_at, created_at)
  on public.doctor_availability_exceptions to authenticated;

-- The notes of availability exceptions `p_ids` that the caller may read: a
-- doctor's own, and every one for an admin.
create or replace function app.availability_exception_notes(p_ids uuid[]) returns table (id uuid, note text)
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  return query
    select e.id, e.note from public.doctor_availability_exceptions e
     where e.id = any (p_ids) and (e.doctor_id = auth.uid() or app.is_admin());
end;
$$;

-- The same for one exception: its note, or null.
create or replace function app.availability_exception_note(p_id uuid) returns text
language sql stable
security definer
set search_path = ''
as $$
  select n.note from app.availability_exception_notes(array[p_id]) n
$$;

revoke all on function app.availability_exception_notes(uuid[]), app.availability_exception_note(uuid)
  from public;
grant execute on function app.availability_exception_notes(uuid[]), app.availability_exception_note(uuid)
  to authenticated, service_role;

-- Writing a clinic history read the whole appointment as the caller (`select *`); the same without the reason.
create or replace function app.create_clinic_history(p_document jsonb) returns uuid
language plpgsql
set search_path = ''
as $$
declare
  v_appointment public.appointments;
  v_history_id uuid;
  v_prescription_id uuid;
begin
  -- Every column but the reason, which the caller may not read directly (positional into the row).
  select a.id, a.patient_id, a.doctor_id, a.specialty_id, null::text, a.starts_at, a.ends_at, a.status,
         a.created_by, a.cancelled_at, a.created_at, a.updated_at
    into v_appointment
    from public.appointments a
   where a.id = (p_document ->> 'appointmentId')::uuid;
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
