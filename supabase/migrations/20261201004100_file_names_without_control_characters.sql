-- =============================================================================
-- A file's name has no control characters (issue 15).
--
-- A name reaches a download's Content-Disposition and the clients' screens; a
-- line break or an escape in it has no place there. The API refuses them (400
-- naming `filename`); the database holds the same rule for any other writer.
-- NOT VALID: rows written before the rule are not rechecked (a migration that
-- failed on one old name would block the deploy); every new or changed row is.
-- =============================================================================

alter table public.consultation_files
  add constraint consultation_files_filename_control_check
  check (filename !~ '[[:cntrl:]]') not valid;

alter table public.chat_files
  add constraint chat_files_filename_control_check
  check (filename !~ '[[:cntrl:]]') not valid;
