/**
 * The privileged path of video: LiveKit's webhooks have no caller, so they
 * are applied as service_role. Each event id is applied once (the primary key
 * of private.livekit_webhook_events); a second delivery changes nothing.
 */
import type { VideoWebhookEvent } from "../../adapters/livekit/livekit.ts";
import type { Database } from "../../db/database.ts";

export async function applyWebhookEvent(
  db: Database,
  event: VideoWebhookEvent,
): Promise<{ duplicate: boolean }> {
  return await db.asService(async (tx) => {
    const inserted = await tx.query(
      `insert into private.livekit_webhook_events (id, event, room_name) values ($1, $2, $3)
       on conflict (id) do nothing returning id`,
      [event.id, event.event, event.roomName ?? null],
    );
    if (inserted.length === 0) return { duplicate: true };
    const at = event.createdAt;
    switch (event.event) {
      case "room_finished":
        await tx.query(
          "update public.video_rooms set finished_at = coalesce(finished_at, $2::timestamptz) where room_name = $1",
          [event.roomName, at],
        );
        await tx.query(
          `update public.video_participants p set left_at = coalesce(p.left_at, $2::timestamptz)
             from public.video_rooms r where r.consultation_id = p.consultation_id and r.room_name = $1`,
          [event.roomName, at],
        );
        break;
      case "participant_joined":
        await tx.query(
          `insert into public.video_participants (consultation_id, identity, joins, joined_at)
           select c.id, $2, 1, $3::timestamptz from public.consultations c where c.room_name = $1
           on conflict (consultation_id, identity)
           do update set joins = public.video_participants.joins + 1, joined_at = excluded.joined_at, left_at = null`,
          [event.roomName, event.participantIdentity, at],
        );
        break;
      case "participant_left":
        await tx.query(
          `update public.video_participants p set left_at = $3::timestamptz
             from public.consultations c
            where c.id = p.consultation_id and c.room_name = $1 and p.identity = $2`,
          [event.roomName, event.participantIdentity, at],
        );
        break;
      case "egress_ended":
        await tx.query(
          `update public.consultation_recordings
              set status = case when $2 = 'EGRESS_FAILED' or $2 = 'EGRESS_ABORTED' then 'failed' else 'ended' end,
                  ended_at = coalesce(ended_at, $3::timestamptz),
                  stop_reason = coalesce(stop_reason, 'egress_ended')
            where egress_id = $1 and status = 'active'`,
          [event.egressId, event.egressStatus ?? "", at],
        );
        break;
    }
    return { duplicate: false };
  });
}
