-- A stop is recorded once LiveKit has answered (no transaction waits for
-- LiveKit), so LiveKit's egress_ended webhook, sent by that very stop, may
-- have marked the recording ended first. The user's stop (or revocation) is
-- still what ended it: it is recorded over the webhook's bare egress_ended,
-- keeping a status of failed if LiveKit reported one.
create or replace function app.record_recording_stopped(p_egress_id text, p_reason text) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.consultation_recordings r
     set status = case when r.status = 'active' then 'ended' else r.status end,
         ended_at = coalesce(r.ended_at, now()),
         stopped_by = auth.uid(),
         stop_reason = p_reason
   where r.egress_id = p_egress_id
     and (r.status = 'active' or (r.stop_reason = 'egress_ended' and r.stopped_by is null))
     and app.takes_part_in_consultation(r.consultation_id);
end;
$$;
