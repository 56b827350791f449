-- =============================================================================
-- A session is bound to the role and the signing key of the token it was
-- issued as.
--
-- private.start_request accepted any token whose jti and sub named a live
-- session: whoever could sign (a leaked legacy secret, a key still trusted
-- for rotation) could re-sign a live token with `user_role: doctor` instead
-- of patient, and the database took the claims as they came. Now each
-- session row records the user_role it was issued with and the id of the
-- key that signed it (the JWT header's `kid`; null for the HS256 secret and
-- for the assistant's runs, which sign nothing), and a request starts only
-- when both match. The restrictive policies of Realtime and Storage
-- (app.session_is_live) check the role too; they see only the claims, not
-- the header, so the key is checked by the API alone.
-- =============================================================================

alter table private.sessions
  add column user_role public.app_role,
  add column signing_kid text;

comment on column private.sessions.user_role is
  'The user_role claim of the token issued for this session; a token with another one is refused.';
comment on column private.sessions.signing_kid is
  'The kid of the key that signed the token (null: the HS256 secret, or an assistant run).';

-- A role change ends every session (private.end_sessions_on_user_change), so
-- a live session's role is its user's current one.
update private.sessions s set user_role = u.role from public.users u where u.id = s.user_id;

-- An insert that does not name the role gets the user's current one.
create or replace function private.sessions_default_role() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.user_role is null then
    select u.role into new.user_role from public.users u where u.id = new.user_id;
  end if;
  return new;
end;
$$;

revoke all on function private.sessions_default_role() from public;

create trigger sessions_default_role
  before insert on private.sessions
  for each row execute function private.sessions_default_role();

alter table private.sessions alter column user_role set not null;

drop function private.start_request(jsonb);

create function private.start_request(claims jsonb, signing_kid text default null) returns void
language plpgsql
as $$
begin
  if not exists (
    select 1
      from private.sessions s
     where s.jti = (claims ->> 'jti')::uuid
       and s.user_id = (claims ->> 'sub')::uuid
       and s.user_role::text = claims ->> 'user_role'
       and s.signing_kid is not distinct from start_request.signing_kid
       and s.revoked_at is null
       and s.expires_at > now()
  ) then
    raise exception using errcode = 'P0001', message = 'AUTH_001',
      detail = 'La sesión terminó. Inicia sesión nuevamente.';
  end if;
  perform set_config('request.jwt.claims', claims::text, true);
  perform set_config('role', 'authenticated', true);
end;
$$;

revoke all on function private.start_request(jsonb, text) from public;

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
       and s.user_role::text = auth.jwt() ->> 'user_role'
       and s.revoked_at is null
       and s.expires_at > now()
  )
$$;
