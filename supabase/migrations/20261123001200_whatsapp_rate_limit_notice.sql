-- =============================================================================
-- WhatsApp: a limit per sender.
--
-- Past the per-phone limit of inbound messages (counted in
-- private.rate_limit_hits, so it holds across instances) a message is kept
-- with status 'failed' and error_code 'RATE_LIMITED', is not shown to the
-- assistant and gets no reply, except the first one past it in a window,
-- which gets a short notice: an outbound message of its own purpose.
-- =============================================================================

alter table public.whatsapp_messages drop constraint whatsapp_messages_purpose_check;
alter table public.whatsapp_messages add constraint whatsapp_messages_purpose_check check (
  purpose in (
    'assistant', 'reminder', 'reminder_reply', 'manual', 'unknown_sender', 'ignored', 'rate_limit_notice'
  )
);
