-- =============================================================================
-- public.patients: one permissive policy per action (Supabase's linter:
-- multiple_permissive_policies). Each is the OR of the former ones, so who
-- may read and update which patient record is exactly as before; the cheap
-- checks come before app.is_my_patient(id), a function call per row.
-- =============================================================================

drop policy "Patients can read their own patient record" on public.patients;
drop policy "Admins can read every patient" on public.patients;
drop policy "Doctors can read their patients" on public.patients;

create policy "The patient, their doctors and admins can read patient records"
  on public.patients for select to authenticated
  using (
    id = (select auth.uid())
    or (select app.is_admin())
    or app.is_my_patient(id)
  );

drop policy "Admins can update patients" on public.patients;
drop policy "Doctors can update their patients" on public.patients;

create policy "Their doctors and admins can update patient records"
  on public.patients for update to authenticated
  using ((select app.is_admin()) or app.is_my_patient(id))
  with check ((select app.is_admin()) or app.is_my_patient(id));
