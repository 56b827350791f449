-- =============================================================================
-- public.appointments: one permissive policy per action.
--
-- Permissive policies for one table, role and action are OR'ed; PostgreSQL
-- evaluates each of them for every row (Supabase's linter:
-- multiple_permissive_policies). Each action now has one policy whose
-- condition is the OR of the former ones, so who may read, book and change
-- which appointment is exactly as before. The conditions keep their
-- index-friendly shapes (a column against the initPlan (select auth.uid()));
-- the cheapest come first. Booking's common created_by = caller is factored
-- out of the three former conditions.
-- =============================================================================

drop policy "Patients can read their own appointments" on public.appointments;
drop policy "Doctors can read their own schedule" on public.appointments;
drop policy "Admins can read every appointment" on public.appointments;

create policy "Their patient, their doctor and admins can read appointments"
  on public.appointments for select to authenticated
  using (
    patient_id = (select auth.uid())
    or doctor_id = (select auth.uid())
    or (select app.is_admin())
  );

drop policy "Patients can book for themselves" on public.appointments;
drop policy "Doctors can book into their own schedule" on public.appointments;
drop policy "Admins can book any appointment" on public.appointments;

-- A patient for themselves, a doctor into their own schedule for a patient
-- they may see, an admin anything; always as its creator.
create policy "Patients, doctors and admins can book appointments"
  on public.appointments for insert to authenticated
  with check (
    created_by = (select auth.uid())
    and (
      patient_id = (select auth.uid())
      or (doctor_id = (select auth.uid()) and patient_id in (select id from public.patients))
      or (select app.is_admin())
    )
  );

drop policy "Patients can change their own appointments" on public.appointments;
drop policy "Doctors can change their own appointments" on public.appointments;
drop policy "Admins can change any appointment" on public.appointments;

create policy "Their patient, their doctor and admins can change appointments"
  on public.appointments for update to authenticated
  using (
    patient_id = (select auth.uid())
    or doctor_id = (select auth.uid())
    or (select app.is_admin())
  )
  with check (
    patient_id = (select auth.uid())
    or doctor_id = (select auth.uid())
    or (select app.is_admin())
  );
