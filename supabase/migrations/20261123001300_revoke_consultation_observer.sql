-- =============================================================================
-- The doctor revokes an observer's grant.
--
-- A grant (app.grant_consultation_observer) let a colleague watch the
-- consultation's video; the doctor can now take it back. The grant row goes
-- (the audit log keeps both the grant and the revocation), so the observer
-- gets no new token, and the function answers the consultation's room so
-- that the API disconnects the observer from it once this has committed.
-- =============================================================================

alter table public.audit_events drop constraint audit_events_action_check;
alter table public.audit_events add constraint audit_events_action_check
  check (action in ('read', 'create', 'update', 'delete', 'grant', 'revoke'));

-- Its doctor only (its patient: AUTH_002; anyone else: RES_001); a grant
-- that does not exist is RES_001. Answers the room to disconnect the
-- observer from, or null when the consultation has none.
create or replace function app.revoke_consultation_observer(p_id uuid, p_user_id uuid) returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v public.consultations;
begin
  select * into v from public.consultations c where c.id = p_id;
  if not found or not (v.doctor_id = auth.uid() or v.patient_id = auth.uid()) then
    raise exception using errcode = 'P0001', message = 'RES_001', detail = 'Consulta no encontrada';
  end if;
  if v.doctor_id <> auth.uid() then
    raise exception using errcode = 'P0001', message = 'AUTH_002',
      detail = 'Solo el médico de la consulta revoca observadores';
  end if;
  delete from public.consultation_observers o where o.consultation_id = p_id and o.user_id = p_user_id;
  if not found then
    raise exception using errcode = 'P0001', message = 'RES_001', detail = 'Observador no encontrado';
  end if;
  perform app.audit('revoke', 'consultation_observer', array[p_id]);
  return v.room_name;
end;
$$;

revoke all on function app.revoke_consultation_observer(uuid, uuid) from public;
grant execute on function app.revoke_consultation_observer(uuid, uuid) to authenticated;
