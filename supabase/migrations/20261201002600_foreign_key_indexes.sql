-- =============================================================================
-- An index for each foreign key that had none (Supabase's linter:
-- unindexed_foreign_keys). Deleting or re-keying a referenced row (a user, a
-- WhatsApp message) otherwise scans the whole referencing table to check it.
--
-- private.sessions.user_id had only a partial index (the sessions not yet
-- revoked), which the cascade from a deleted user cannot use for the revoked
-- ones. One whole index replaces it: it also serves revoking a user's active
-- sessions (user_id = $1 and revoked_at is null), a user's few rows.
-- =============================================================================

create index appointment_reminders_whatsapp_message_idx
  on public.appointment_reminders (whatsapp_message_id);

create index chat_video_calls_ended_by_idx on public.chat_video_calls (ended_by);

create index video_rooms_created_by_idx on public.video_rooms (created_by);

create index sessions_user_idx on private.sessions (user_id);
drop index private.sessions_active_by_user_idx;
