-- =============================================================================
-- Closing a consultation ends its video room.
--
-- app.close_consultation now answers the consultation's LiveKit room, if it
-- had one, so that the API (which alone talks to LiveKit) deletes the room
-- once the close has committed: nobody stays connected to a closed
-- consultation, whoever closed it (its doctor, or an admin, who is never
-- shown room names otherwise).
-- =============================================================================

drop function app.close_consultation(uuid);

-- The doctor or an admin closes the consultation (again is a no-op). Answers
-- the room to end, or null when the consultation never had one.
create function app.close_consultation(p_id uuid) returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v public.consultations := app.consultation_for_transition(p_id);
begin
  if not (app.is_admin() or v.doctor_id = auth.uid()) then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'Solo el médico de la consulta o un administrador la cierra';
  end if;
  if v.status <> 'closed' then
    update public.consultations c set status = 'closed' where c.id = p_id;
  end if;
  return v.room_name;
end;
$$;

revoke all on function app.close_consultation(uuid) from public;
grant execute on function app.close_consultation(uuid) to authenticated;
