-- =============================================================================
-- public.users: one permissive policy per action (Supabase's linter:
-- multiple_permissive_policies). Each is the OR of the former ones, so who
-- may read and update which profile is exactly as before. A doctor's read of
-- their patients' profiles keeps its two index probes (20261123000900), and
-- comes after the cheap checks.
-- =============================================================================

drop policy "Users can read their own profile" on public.users;
drop policy "Admins can read every user" on public.users;
drop policy "Doctors can read their patients' profiles" on public.users;

create policy "One's own profile, a doctor's patients' and admins can read users"
  on public.users for select to authenticated
  using (
    (id = (select auth.uid()) and deleted_at is null)
    or (select app.is_admin())
    or (
      role = 'patient'
      and (select app.user_role()) = 'doctor'
      and (
        exists (
          select 1 from public.appointments a
           where a.doctor_id = (select auth.uid()) and a.patient_id = users.id
        )
        or exists (
          select 1 from public.patients p
           where p.id = users.id and p.created_by = (select auth.uid())
        )
      )
    )
  );

drop policy "Admins can update users" on public.users;
drop policy "Doctors can update their patients' profiles" on public.users;

create policy "Admins and a patient's doctors can update users"
  on public.users for update to authenticated
  using ((select app.is_admin()) or (role = 'patient' and app.is_my_patient(id)))
  with check ((select app.is_admin()) or (role = 'patient' and app.is_my_patient(id)));
