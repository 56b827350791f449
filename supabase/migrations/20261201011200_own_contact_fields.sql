-- A user edits their own contact fields: the e-mail (every user) and, for a
-- patient, the address. Nothing else: no policy lets a patient update their
-- rows (that would open every column), so this function is the one way, and
-- only to the caller's own rows. The phone changes only by a WhatsApp code
-- (the privileged path), never here.
create or replace function app.update_my_contact(p_email text, p_address text) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user uuid := (select auth.uid());
begin
  if v_user is null then
    raise exception using errcode = 'P0001', message = 'AUTH_001', detail = 'Sesión requerida';
  end if;
  if p_email is not null then
    update public.users set email = p_email where id = v_user and deleted_at is null;
  end if;
  if p_address is not null then
    update public.patients set address = p_address where id = v_user;
    if not found then
      raise exception using errcode = 'P0001', message = 'VAL_001',
        detail = 'Solo un paciente tiene una dirección', hint = 'address';
    end if;
  end if;
end;
$$;

revoke all on function app.update_my_contact(text, text) from public;
grant execute on function app.update_my_contact(text, text) to authenticated;
