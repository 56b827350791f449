-- =============================================================================
-- Demo data for local development (applied by `deno task start` on an empty
-- database, and by `supabase db reset`; never in production).
-- Every account's password is `consultorio-demo`.
-- =============================================================================

insert into public.specialties (id, name, description) values
  ('00000000-0000-4000-8000-000000000101', 'General practice', 'Medicina general y familiar'),
  ('00000000-0000-4000-8000-000000000102', 'Cardiology', 'Corazón y sistema circulatorio');

insert into public.users (id, role, name, last_name, phone, email, specialty_id) values
  ('00000000-0000-4000-8000-000000000001', 'admin', 'Ana', 'Admin', '+5491100000001', 'ana.admin@consultorio.dev', null),
  ('00000000-0000-4000-8000-000000000002', 'doctor', 'Diego', 'Doctor', '+5491100000002', 'diego.doctor@consultorio.dev', '00000000-0000-4000-8000-000000000101'),
  ('00000000-0000-4000-8000-000000000004', 'doctor', 'Dora', 'Doctor', '+5491100000004', 'dora.doctor@consultorio.dev', '00000000-0000-4000-8000-000000000102'),
  ('00000000-0000-4000-8000-000000000003', 'patient', 'Pablo', 'Paciente', '+5491100000003', 'pablo.paciente@consultorio.dev', null),
  ('00000000-0000-4000-8000-000000000005', 'patient', 'Paula', 'Paciente', '+5491100000005', 'paula.paciente@consultorio.dev', null);

-- Argon2id of 'consultorio-demo' (m=19456, t=2, p=1).
insert into private.credentials (user_id, password_hash, password_changed_at)
select id, '$argon2id$v=19$m=19456,t=2,p=1$6H493CHsPLmR/omBAgR6hw$xNySUWkNG67IDGziRJf1iDRsqskzV0Q3EpdtpWXoPhI', now()
  from public.users
 where id in (
   '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002',
   '00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000004',
   '00000000-0000-4000-8000-000000000005'
 );

-- Pablo and Paula are patients.
insert into public.patients (id, address, gender, birth_date, created_by) values
  ('00000000-0000-4000-8000-000000000003', 'Av. Corrientes 1234, CABA', 'male', '1985-03-14', '00000000-0000-4000-8000-000000000001'),
  ('00000000-0000-4000-8000-000000000005', 'Calle Falsa 742, Rosario', 'female', '1992-11-02', '00000000-0000-4000-8000-000000000001');

-- Both doctors work Monday to Friday, 09:00-13:00 and 14:00-18:00 (clinic time), in 30-minute slots.
insert into public.doctor_weekly_hours (doctor_id, weekday, start_time, end_time, slot_minutes)
select d.id, w.day, h.start_time, h.end_time, 30
  from (values ('00000000-0000-4000-8000-000000000002'::uuid), ('00000000-0000-4000-8000-000000000004'::uuid)) d (id)
 cross join generate_series(1, 5) w (day)
 cross join (values ('09:00'::time, '13:00'::time), ('14:00'::time, '18:00'::time)) h (start_time, end_time);

-- Pablo saw Diego last week (COMPLETED, with its clinic history) and sees him again next week (CONFIRMED).
-- The appointment rules refuse a start in the past, so they are set aside for the demo's history.
alter table public.appointments disable trigger appointments_check;

insert into public.appointments (id, patient_id, doctor_id, specialty_id, reason, starts_at, ends_at, status, created_by)
select a.id, '00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000002',
       '00000000-0000-4000-8000-000000000101', a.reason,
       (date_trunc('week', now() at time zone tz.name)::date + a.day_offset + time '10:00') at time zone tz.name,
       (date_trunc('week', now() at time zone tz.name)::date + a.day_offset + time '10:30') at time zone tz.name,
       a.status::public.appointment_status, '00000000-0000-4000-8000-000000000001'
  from (select time_zone as name from public.clinic_settings) tz,
       (values ('00000000-0000-4000-8000-000000000201'::uuid, -6, 'Dolor de cabeza persistente', 'COMPLETED'),
               ('00000000-0000-4000-8000-000000000202'::uuid, 8, 'Control de tratamiento', 'CONFIRMED'))
         a (id, day_offset, reason, status);

alter table public.appointments enable trigger appointments_check;

insert into public.clinic_histories (id, appointment_id, patient_id, doctor_id, specialty_id, consultation_reason, symptoms, treatment)
values ('00000000-0000-4000-8000-000000000301', '00000000-0000-4000-8000-000000000201',
        '00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000002',
        '00000000-0000-4000-8000-000000000101', 'Dolor de cabeza persistente desde hace 3 días',
        array['dolor de cabeza', 'mareos'], 'Reposo, hidratación y paracetamol');

insert into public.clinic_history_diagnostics (clinic_history_id, position, name, description)
values ('00000000-0000-4000-8000-000000000301', 1, 'Cefalea tensional', 'Sin signos de alarma');

insert into public.clinic_history_vital_signs (clinic_history_id, position, name, value, unit, measurement)
values ('00000000-0000-4000-8000-000000000301', 1, 'Presión arterial', '120/80', 'mmHg', 'sistólica/diastólica'),
       ('00000000-0000-4000-8000-000000000301', 2, 'Temperatura', '36.5', '°C', 'axilar');

insert into public.prescriptions (id, clinic_history_id, name, description)
values ('00000000-0000-4000-8000-000000000401', '00000000-0000-4000-8000-000000000301',
        'Receta para cefalea', 'Tratamiento sintomático');

insert into public.prescription_medications
  (prescription_id, position, name, quantity, unit, frequency, duration, indications, administration_route)
values ('00000000-0000-4000-8000-000000000401', 1, 'Paracetamol 500 mg', 20, 'tabletas', 'Cada 8 horas',
        '5 días', 'Tomar con alimentos', 'Oral');
