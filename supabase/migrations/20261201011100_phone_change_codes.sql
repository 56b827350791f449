-- A signed-in user's phone change, confirmed by a code sent by WhatsApp to
-- the NEW number: proof that the number is theirs before sign-in, reset codes
-- and reminders go to it. Stored as the reset codes are (HMAC, never the
-- code; 10 minutes; 5 tries; single use). Only the privileged path reads it.
create table private.phone_change_codes (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.users (id) on delete cascade,
  new_phone text not null check (new_phone ~ '^\+[1-9][0-9]{6,14}$'),
  code_hash text not null,
  attempts integer not null default 0 check (attempts >= 0),
  expires_at timestamptz not null,
  consumed_at timestamptz,
  created_at timestamptz not null default now()
);

comment on table private.phone_change_codes is
  'PHI: pending phone changes of signed-in users. HMAC-SHA256 of the code sent by WhatsApp to the new '
  'number, never the code; 10 minutes; at most 5 tries; single use.';
comment on column private.phone_change_codes.new_phone is 'PHI: the phone number being confirmed.';

create index phone_change_codes_user_idx on private.phone_change_codes (user_id, created_at desc);

alter table private.phone_change_codes enable row level security;
grant select, insert, update, delete on private.phone_change_codes to service_role;
