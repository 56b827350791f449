-- Limits on the endpoints that cost the clinic money (issue 15, item 4): one
-- doctor made 41 OpenAI calls in half a second and sent 200 WhatsApp messages
-- to one patient. The counters are the rate-limit counters of the foundation
-- (private.rate_limit_hits, one row per key and window, bumped by an upsert
-- that takes the row's lock, so parallel requests count one after another).
--
-- Per caller and per recipient, the count is taken inside the request's own
-- transaction, before the call out: a refused request rolls back (it is not
-- counted) and a parallel burst waits on the counter's row, each request
-- seeing the hits committed before it. The keys are built here from
-- auth.uid(), never from what the caller passes, so no one can spend another
-- user's allowance (or a sign-in limit) through these functions.
--
-- The clinic's daily budget of model calls is counted by the privileged
-- path before each call to OpenAI, in a transaction of its own (committed at
-- once, so the budget does not serialize the clinic's calls), and its window
-- is the clinic's day in the clinic's time zone.

-- The key format of shared/auth/rate-limits.ts (rateLimitKey): sha256 of "name:subject", hex.
create or replace function private.rate_limit_key(p_name text, p_subject text) returns text
language sql immutable
set search_path = ''
as $$
  select encode(sha256(convert_to(p_name || ':' || p_subject, 'UTF8')), 'hex')
$$;

revoke all on function private.rate_limit_key(text, text) from public;
grant execute on function private.rate_limit_key(text, text) to service_role;

-- One more hit for p_key in the window that starts at p_window_start (older
-- windows of the key are dropped); answers the window's hits so far. The
-- upsert takes the row's lock: parallel hits are counted one after another.
create or replace function private.count_rate_limit_hit(p_key text, p_window_start timestamptz)
returns integer
language sql
security definer
set search_path = ''
as $$
  with dropped as (
    delete from private.rate_limit_hits where key = p_key and window_start < p_window_start
  )
  insert into private.rate_limit_hits as r (key, window_start, hits)
  values (p_key, p_window_start, 1)
  on conflict (key, window_start) do update set hits = r.hits + 1
  returning r.hits
$$;

revoke all on function private.count_rate_limit_hit(text, timestamptz) from public;

-- The foundation's fixed windows, counted by the same upsert.
create or replace function private.hit_rate_limit(p_key text, p_window_seconds integer, p_max integer)
returns table (allowed boolean, retry_after_seconds integer)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_start timestamptz := to_timestamp(
    floor(extract(epoch from now()) / p_window_seconds) * p_window_seconds
  );
begin
  allowed := private.count_rate_limit_hit(p_key, v_start) <= p_max;
  retry_after_seconds := greatest(
    1, ceil(extract(epoch from (v_start + make_interval(secs => p_window_seconds) - now())))::integer
  );
  return next;
end;
$$;

-- Counts one hit for p_key in the clinic's current day (its time zone); answers
-- whether it is within p_max and the seconds until the clinic's next midnight.
create or replace function private.hit_daily_limit(p_key text, p_max integer)
returns table (allowed boolean, retry_after_seconds integer)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_zone text := app.clinic_time_zone();
  v_day timestamp := date_trunc('day', now() at time zone v_zone);
begin
  allowed := private.count_rate_limit_hit(p_key, v_day at time zone v_zone) <= p_max;
  retry_after_seconds := greatest(
    1, ceil(extract(epoch from ((v_day + interval '1 day') at time zone v_zone - now())))::integer
  );
  return next;
end;
$$;

revoke all on function private.hit_daily_limit(text, integer) from public;
grant execute on function private.hit_daily_limit(text, integer) to service_role;

-- Counts one hit on each (key, window, max) of the signed-in caller and raises
-- RATE_001 (hint: the longest wait) if any is over its limit. Internal:
-- callers reach it only through the narrow functions below, which build the
-- keys from auth.uid().
create or replace function private.require_rate_limits(p_keys text[], p_windows integer[], p_maxes integer[])
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_wait integer;
  v_hit record;
begin
  if auth.uid() is null then
    raise exception using errcode = 'P0001', message = 'AUTH_002', detail = 'Sin sesión';
  end if;
  for i in 1 .. cardinality(p_keys) loop
    select * into v_hit from private.hit_rate_limit(p_keys[i], p_windows[i], p_maxes[i]);
    if not v_hit.allowed then
      v_wait := greatest(coalesce(v_wait, 0), v_hit.retry_after_seconds);
    end if;
  end loop;
  if v_wait is not null then
    raise exception using errcode = 'P0001', message = 'RATE_001',
      detail = format('Demasiadas solicitudes. Vuelve a intentar en %s segundos.', v_wait),
      hint = v_wait::text;
  end if;
end;
$$;

revoke all on function private.require_rate_limits(text[], integer[], integer[]) from public;

-- One message to the assistant through POST /v1/openai/message, per caller.
create or replace function app.count_assistant_message(p_max integer, p_window_seconds integer)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.require_rate_limits(
    array[private.rate_limit_key('assistant:user', auth.uid()::text)],
    array[p_window_seconds], array[p_max]
  );
end;
$$;

-- One WhatsApp message sent through POST /v1/twilio/whatsapp/send: per
-- sender, and per recipient whoever sends (a patient is not flooded by
-- several senders either).
create or replace function app.count_whatsapp_send(
  p_recipient_id uuid,
  p_sender_max integer, p_sender_window_seconds integer,
  p_recipient_max integer, p_recipient_window_seconds integer
) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- Only a recipient the caller may write to (RLS's rule on users): no one spends a stranger's allowance.
  if not app.can_read_patient(p_recipient_id) then
    raise exception using errcode = 'P0001', message = 'RES_001', detail = 'Destinatario no encontrado';
  end if;
  -- Always the sender's counter first: two requests never wait on each other's rows in opposite orders.
  perform private.require_rate_limits(
    array[
      private.rate_limit_key('whatsapp-send:sender', auth.uid()::text),
      private.rate_limit_key('whatsapp-send:recipient', p_recipient_id::text)
    ],
    array[p_sender_window_seconds, p_recipient_window_seconds],
    array[p_sender_max, p_recipient_max]
  );
end;
$$;

revoke all on function app.count_assistant_message(integer, integer),
  app.count_whatsapp_send(uuid, integer, integer, integer, integer) from public;
grant execute on function app.count_assistant_message(integer, integer),
  app.count_whatsapp_send(uuid, integer, integer, integer, integer) to authenticated;
