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
