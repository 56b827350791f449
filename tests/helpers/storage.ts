/**
 * A bucket of the tests' own for the Storage stand-in's general behaviour,
 * apart from the product's buckets (whose objects follow their records):
 * a consultation's members read, upload and delete in its folder.
 */
import type { TestStack } from "./stack.ts";

export const BUCKET = "test-files";

/**
 * The test bucket, with a member's plain rules: any object under
 * `{consultationId}/` for its doctor and patient.
 */
export async function createTestBucket(s: TestStack) {
  const member = `bucket_id = '${BUCKET}'
    and (select app.takes_part_in_consultation(app.topic_id('c:' || (storage.foldername(name))[1], 'c')))`;
  await s.stack.deps.db.queryAsOwner(
    `insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
     values ($1, $1, false, 10485760,
             array['application/pdf', 'image/jpeg', 'image/png', 'image/webp', 'text/plain'])`,
    [BUCKET],
  );
  for (
    const sql of [
      `create policy "test: members read" on storage.objects for select to authenticated using (${member})`,
      `create policy "test: members upload" on storage.objects for insert to authenticated with check (${member})`,
      `create policy "test: members delete" on storage.objects for delete to authenticated using (${member})`,
    ]
  ) await s.stack.deps.db.queryAsOwner(sql);
}
