-- =============================================================================
-- Realtime takes only short-lived platform tokens.
--
-- Supabase Realtime checks a channel's token at join, when the client sends
-- a new one (access_token) and when it expires; in between it never asks the
-- database. With the API's 30-day token, a socket that joined before a logout
-- kept receiving (only a new join was refused). POST /v1/auth/realtime-token
-- mints a token of minutes (REALTIME_TOKEN_TTL_SECONDS) for a live session
-- only, with the session's id in `session_id`; supabase-js refreshes it
-- through its accessToken option. Once the session is dead the refresh is
-- refused, and Realtime closes the channel when the token it holds expires.
--
-- So that a client cannot keep a channel on its 30-day token instead, a
-- restrictive policy admits on realtime.messages only a token that names a
-- session and expires within the hour; its session must be live, as before.
-- Storage asks for a live session on every operation, so it takes either.
-- =============================================================================

-- The session a token belongs to: `session_id` (a platform token) or `jti` (an API token).
create or replace function app.session_is_live() returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select exists (
    select 1
      from private.sessions s
     where s.jti = (
             case when coalesce(auth.jwt() ->> 'session_id', auth.jwt() ->> 'jti')
                         ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                  then coalesce(auth.jwt() ->> 'session_id', auth.jwt() ->> 'jti')::uuid end
           )
       and s.user_id = auth.uid()
       and s.user_role::text = auth.jwt() ->> 'user_role'
       and s.revoked_at is null
       and s.expires_at > now()
  )
$$;

-- Whether the caller's token is a platform token: it names a session and
-- expires within the hour (the longest REALTIME_TOKEN_TTL_SECONDS allowed).
create or replace function app.is_platform_token() returns boolean
language sql stable
set search_path = ''
as $$
  select coalesce(
    auth.jwt() ? 'session_id'
      and jsonb_typeof(auth.jwt() -> 'exp') = 'number'
      and (auth.jwt() ->> 'exp')::numeric <= extract(epoch from now()) + 3600,
    false
  )
$$;

revoke all on function app.is_platform_token() from public;
grant execute on function app.is_platform_token() to authenticated;

create policy "Only a platform token uses channels"
  on realtime.messages as restrictive for all to authenticated
  using ((select app.is_platform_token()))
  with check ((select app.is_platform_token()));
