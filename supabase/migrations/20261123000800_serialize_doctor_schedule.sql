-- =============================================================================
-- One writer at a time per doctor's schedule.
--
-- An exclusion constraint checks for overlaps after the row is in the index:
-- two bookings of one slot inserted at the same instant each find the other's
-- uncommitted row and wait for each other, and PostgreSQL breaks the deadlock
-- by aborting one (40P01). Under a burst of bookings for one slot each new
-- arrival joins the cycle again, so nobody commits until the burst is over and
-- every loser gets a deadlock (503) instead of the clear 409 APP_001 (seen in
-- CI: 100 concurrent bookings gave one 201 and no 409). A transaction-scoped
-- advisory lock per doctor, taken before the row is written, makes the second
-- booking wait for the first to commit and then meet its row: 409, never a
-- deadlock. Different doctors never wait for each other.
--
-- The weekly hours' replacement (delete then insert) takes the same lock
-- first, so two concurrent replacements run one after the other (the last
-- one wins) instead of the second colliding with the first's new rows.
-- =============================================================================

-- The lock's first key: the class "a doctor's schedule"; the second is the doctor.
create or replace function app.lock_doctor_schedule(p_doctor_id uuid) returns void
language sql
set search_path = ''
as $$
  select pg_catalog.pg_advisory_xact_lock(1001, pg_catalog.hashtext(p_doctor_id::text));
$$;

comment on function app.lock_doctor_schedule(uuid) is
  'Waits until no other transaction is writing this doctor''s appointments or weekly hours; '
  'held until the end of the transaction.';

revoke all on function app.lock_doctor_schedule(uuid) from public;
grant execute on function app.lock_doctor_schedule(uuid) to authenticated, service_role;

create or replace function app.serialize_doctor_schedule() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform app.lock_doctor_schedule(new.doctor_id);
  return new;
end;
$$;

-- Before triggers run in name order: "appointments_0_..." runs before
-- appointments_check, whose reads then see the previous writer's commit.
create trigger appointments_0_serialize_doctor_schedule
  before insert or update of starts_at, ends_at, status on public.appointments
  for each row execute function app.serialize_doctor_schedule();
