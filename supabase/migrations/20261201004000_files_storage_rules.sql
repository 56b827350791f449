-- =============================================================================
-- The files buckets follow their records (issue 15).
--
-- An attack found that a consultation's participant could, with a plain
-- Storage call and their own token, delete the other party's confirmed file
-- (its download then failed), upload straight into the consultation's folder
-- (no row, no limit, no prepare/confirm) and keep uploading and deleting after
-- the consultation closed: the policies of 20261123000200 let a member insert
-- and delete anything under `{consultationId}/`.
--
-- The rules now, for `consultation-files/{consultationId}/{fileId}` and
-- `chat-files/{conversationId}/{fileId}`:
--
-- - Only the API's prepare creates an upload slot: an object may be stored
--   only where a pending row of public.consultation_files (public.chat_files)
--   names it. No client has an INSERT or UPDATE policy; the API signs the
--   upload URL as the service role, and Storage stores a signed upload as its
--   superuser, which row-level security does not see. So a trigger on
--   storage.objects (which applies to every role, the superuser too) refuses
--   any object without its pending row, or once the consultation is closed
--   (a chat file: once its uploader left the conversation): an upload URL
--   signed before the close is dead after it.
-- - Only its uploader deletes an unconfirmed file, while the consultation is
--   open. A confirmed (shared) file is part of the record: no client policy
--   deletes it, and the trigger refuses its deletion to every role.
-- - Reading: a consultation's members read its confirmed files, and each their
--   own pending one; the other party's unconfirmed upload is not theirs yet.
--
-- The trigger raises 42501 (insufficient privilege), which Storage answers as
-- AccessDenied (403), as it answers a refusal of row-level security. Supabase
-- lets a project create triggers and policies on storage.objects.
-- =============================================================================

drop policy "Consultation members can read its files" on storage.objects;
drop policy "Consultation members can upload its files" on storage.objects;
drop policy "Consultation members can delete its files" on storage.objects;

-- `{folder}/{file}` of an object name, both uuids, or no row. The casts sit
-- behind the shape test in a CASE: a WHERE does not order evaluation, so a
-- name of another shape could otherwise be cast (and fail) first.
create or replace function app.file_object_key(p_name text)
returns table (folder_id uuid, file_id uuid)
language sql immutable
set search_path = ''
as $$
  select key.folder_id, key.file_id
    from (
      select case when shape.ok then split_part(p_name, '/', 1)::uuid end as folder_id,
             case when shape.ok then split_part(p_name, '/', 2)::uuid end as file_id
        from (
          select p_name ~ ('^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
                           '/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$') as ok
        ) shape
    ) key
   where key.file_id is not null
$$;

revoke all on function app.file_object_key(text) from public;
grant execute on function app.file_object_key(text) to authenticated;

-- The file row of a consultation-files object, for a member of its
-- consultation only (nobody else learns that it exists): its status, whether
-- the caller uploaded it, whether its consultation is closed.
create or replace function app.consultation_file_object(p_name text)
returns table (status text, mine boolean, consultation_closed boolean)
language sql stable
security definer
set search_path = ''
as $$
  select f.status, f.uploaded_by = auth.uid(), c.status = 'closed'
    from app.file_object_key(p_name) k
    join public.consultation_files f on f.id = k.file_id and f.consultation_id = k.folder_id
    join public.consultations c on c.id = f.consultation_id
   where c.doctor_id = auth.uid() or c.patient_id = auth.uid()
$$;

revoke all on function app.consultation_file_object(text) from public;
grant execute on function app.consultation_file_object(text) to authenticated;

create policy "Consultation members read its confirmed files and their own"
  on storage.objects for select to authenticated
  using (
    bucket_id = 'consultation-files'
    and exists (
      select 1 from app.consultation_file_object(name) o
       where o.status = 'uploaded' or o.mine
    )
  );

create policy "Uploaders delete their unconfirmed files while it is open"
  on storage.objects for delete to authenticated
  using (
    bucket_id = 'consultation-files'
    and exists (
      select 1 from app.consultation_file_object(name) o
       where o.status = 'pending' and o.mine and not o.consultation_closed
    )
  );

-- What may happen to an object of a files bucket, whoever asks: stored only
-- in a pending slot (of an open consultation), never deleted once confirmed.
-- It holds the file's row (for share) while it decides: the API confirms a
-- file holding the same row (for update) after checking that the object is
-- still the version whose bytes it checked, so no upload or delete can slip
-- in between that check and the commit.
create or replace function app.guard_file_object() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_object storage.objects := case when tg_op = 'DELETE' then old else new end;
  v_state text;
begin
  -- Storage's own bookkeeping (timestamps, metadata) keeps the object's bytes: not a write of a file.
  if tg_op = 'UPDATE' and new.bucket_id = old.bucket_id and new.name = old.name
     and new.version is not distinct from old.version then
    return new;
  end if;
  if v_object.bucket_id = 'consultation-files' then
    select case when f.status = 'uploaded' then 'kept' when c.status = 'closed' then 'closed' else 'open' end
      into v_state
      from app.file_object_key(v_object.name) k
      join public.consultation_files f on f.id = k.file_id and f.consultation_id = k.folder_id
      join public.consultations c on c.id = f.consultation_id
       for share of f;
  else
    -- An uploader who left the conversation uploads nothing more into it.
    select case when f.status = 'shared' then 'kept' when p.left_at is null then 'open' else 'left' end
      into v_state
      from app.file_object_key(v_object.name) k
      join public.chat_files f on f.id = k.file_id and f.conversation_id = k.folder_id
      join public.conversation_participants p on p.conversation_id = f.conversation_id and p.user_id = f.uploaded_by
       for share of f;
  end if;

  if tg_op = 'DELETE' then
    if v_state = 'kept' then
      raise exception using errcode = '42501',
        message = 'A confirmed file is part of the record and is not deleted';
    end if;
    return old;
  end if;
  if v_state is distinct from 'open' then
    raise exception using errcode = '42501',
      message = case v_state
        when 'kept' then 'A confirmed file is part of the record and is not replaced'
        when 'closed' then 'The consultation is closed'
        when 'left' then 'The uploader left the conversation'
        else 'No upload was prepared for this object'
      end;
  end if;
  return new;
end;
$$;

revoke all on function app.guard_file_object() from public;

-- Two triggers: an INSERT's condition cannot name OLD, nor a DELETE's NEW.
create trigger files_stored_only_in_prepared_slots
  before insert or update on storage.objects
  for each row
  when (new.bucket_id in ('consultation-files', 'chat-files'))
  execute function app.guard_file_object();

create trigger files_kept_once_confirmed
  before delete on storage.objects
  for each row
  when (old.bucket_id in ('consultation-files', 'chat-files'))
  execute function app.guard_file_object();
