-- =============================================================================
-- A doctor's read of their patients' profiles, checked by index.
--
-- "Doctors can read their patients' profiles" called app.is_my_patient(id)
-- for every user row a query met. The function is security definer with its
-- own search_path, so PostgreSQL can not inline it: each row paid a function
-- call (about 20 µs), and a doctor's appointment list, which joins the
-- patient's name, spent half its time there (bench/results.md, "RLS vs
-- service role").
--
-- The same rule written inline is planned as two index probes per row: an
-- appointment of this doctor with the patient (appointments_doctor_patient_idx),
-- else a patient record this doctor registered. The subqueries run under the
-- caller's own row-level security, which shows a doctor exactly their own
-- schedule and their own patients, so they mean what app.is_my_patient means.
-- The update policy keeps app.is_my_patient: it meets one row at a time.
-- =============================================================================

drop policy "Doctors can read their patients' profiles" on public.users;

create policy "Doctors can read their patients' profiles"
  on public.users for select to authenticated
  using (
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
  );
