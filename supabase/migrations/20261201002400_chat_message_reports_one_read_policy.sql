-- =============================================================================
-- public.chat_message_reports: one read policy (Supabase's linter:
-- multiple_permissive_policies), the OR of the former two: a reporter reads
-- their own reports, an admin every report.
-- =============================================================================

drop policy "Reporters can read their reports" on public.chat_message_reports;
drop policy "Admins can read every report" on public.chat_message_reports;

create policy "Reporters and admins can read reports"
  on public.chat_message_reports for select to authenticated
  using (reported_by = (select auth.uid()) or (select app.is_admin()));
