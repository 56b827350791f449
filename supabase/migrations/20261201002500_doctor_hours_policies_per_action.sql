-- =============================================================================
-- The doctors' weekly hours and availability exceptions: one permissive
-- policy per action (Supabase's linter: multiple_permissive_policies).
--
-- Each table had a read policy for every signed-in user and a FOR ALL policy
-- for its doctor and admins, which also applied to reads: two policies per
-- read. The FOR ALL policy becomes one policy each for insert, update and
-- delete with the same condition; reading stays open to every signed-in user.
-- =============================================================================

drop policy "Doctors and admins can manage weekly hours" on public.doctor_weekly_hours;

create policy "Doctors and admins can add weekly hours"
  on public.doctor_weekly_hours for insert to authenticated
  with check (doctor_id = (select auth.uid()) or (select app.is_admin()));

create policy "Doctors and admins can change weekly hours"
  on public.doctor_weekly_hours for update to authenticated
  using (doctor_id = (select auth.uid()) or (select app.is_admin()))
  with check (doctor_id = (select auth.uid()) or (select app.is_admin()));

create policy "Doctors and admins can remove weekly hours"
  on public.doctor_weekly_hours for delete to authenticated
  using (doctor_id = (select auth.uid()) or (select app.is_admin()));

drop policy "Doctors and admins can manage availability exceptions" on public.doctor_availability_exceptions;

create policy "Doctors and admins can add availability exceptions"
  on public.doctor_availability_exceptions for insert to authenticated
  with check (doctor_id = (select auth.uid()) or (select app.is_admin()));

create policy "Doctors and admins can change availability exceptions"
  on public.doctor_availability_exceptions for update to authenticated
  using (doctor_id = (select auth.uid()) or (select app.is_admin()))
  with check (doctor_id = (select auth.uid()) or (select app.is_admin()));

create policy "Doctors and admins can remove availability exceptions"
  on public.doctor_availability_exceptions for delete to authenticated
  using (doctor_id = (select auth.uid()) or (select app.is_admin()));
