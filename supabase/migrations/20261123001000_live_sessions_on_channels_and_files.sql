-- =============================================================================
-- Realtime channels and Storage files only for a live session.
--
-- The API checks the token's session (private.sessions) on every request, so
-- a logout, a password reset, a deactivation or an admin's "end all
-- sessions" is a 401 at once. Realtime and Storage verify only the token's
-- signature and expiry, and access tokens live 30 days: a signed-out token
-- could still join a consultation's channel or read its files until it
-- expired. Both authorize through row-level security as the token's user
-- (realtime.messages when a channel is joined or its token refreshed,
-- storage.objects for every file operation), so a restrictive policy on each
-- asks the same question the API asks: is this token's session still live?
-- A restrictive policy is AND-ed with the permissive ones, whatever they say.
-- The service role (the functions' privileged path) bypasses row-level
-- security and is not concerned.
-- =============================================================================

-- Whether the caller's token belongs to a session that is neither revoked nor
-- expired (the check of private.start_request, as a boolean).
create or replace function app.session_is_live() returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select exists (
    select 1
      from private.sessions s
     where s.jti = (
             case when auth.jwt() ->> 'jti' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                  then (auth.jwt() ->> 'jti')::uuid end
           )
       and s.user_id = auth.uid()
       and s.revoked_at is null
       and s.expires_at > now()
  )
$$;

revoke all on function app.session_is_live() from public;
grant execute on function app.session_is_live() to authenticated;

create policy "Only a live session uses channels"
  on realtime.messages as restrictive for all to authenticated
  using ((select app.session_is_live()))
  with check ((select app.session_is_live()));

create policy "Only a live session uses files"
  on storage.objects as restrictive for all to authenticated
  using ((select app.session_is_live()))
  with check ((select app.session_is_live()));
