-- A signed-in user's own password change (and, later, phone change) ends
-- their other sessions: the revocation says why.
alter table private.sessions drop constraint sessions_revoked_reason_check;
alter table private.sessions add constraint sessions_revoked_reason_check check (
  revoked_reason in (
    'logout', 'password_reset', 'admin', 'deactivated', 'role_changed', 'deleted', 'run_ended',
    'password_changed', 'phone_changed'
  )
);
