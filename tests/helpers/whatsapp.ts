/**
 * WhatsApp as Twilio speaks it, for the tests: webhooks POSTed form-encoded
 * and signed by the real twilio SDK, and the replies read from the Twilio
 * stand-in (supabase/local/twilio/) that the real SDK sent them to.
 */
import twilio from "twilio";
import { TEST_TWILIO, type TestStack } from "./stack.ts";
import { eventually } from "./wait.ts";

export const CLINIC_NUMBER = `whatsapp:${TEST_TWILIO.from}`;

export const webhookUrl = (s: TestStack) => `${s.origin}/functions/v1/whatsapp-webhook`;

export function messageSid(): string {
  return `SM${crypto.randomUUID().replaceAll("-", "")}`;
}

export interface Inbound {
  from: string;
  body: string;
  sid?: string;
  /** Sign with this token instead of the account's (a forgery). */
  signWith?: string;
  /** Sign for this URL instead of the public one. */
  signedUrl?: string;
  unsigned?: boolean;
  extra?: Record<string, string>;
}

/** POSTs a WhatsApp message to the webhook as Twilio does: form-encoded, signed by the twilio SDK. */
export async function sendInbound(s: TestStack, inbound: Inbound) {
  const params: Record<string, string> = {
    MessageSid: inbound.sid ?? messageSid(),
    SmsMessageSid: inbound.sid ?? messageSid(),
    AccountSid: TEST_TWILIO.accountSid,
    From: `whatsapp:${inbound.from}`,
    To: CLINIC_NUMBER,
    Body: inbound.body,
    NumMedia: "0",
    SmsStatus: "received",
    ...inbound.extra,
  };
  const url = webhookUrl(s);
  const headers: Record<string, string> = { "Content-Type": "application/x-www-form-urlencoded" };
  if (!inbound.unsigned) {
    headers["X-Twilio-Signature"] = twilio.getExpectedTwilioSignature(
      inbound.signWith ?? TEST_TWILIO.authToken,
      inbound.signedUrl ?? url,
      params,
    );
  }
  const res = await fetch(url, { method: "POST", headers, body: new URLSearchParams(params) });
  return { status: res.status, text: await res.text(), sid: params.MessageSid };
}

export function sentTo(s: TestStack, phone: string) {
  return s.stack.twilio!.messages.filter((m) => m.to === `whatsapp:${phone}`);
}

/** Waits for the `count`-th reply to `phone` through the Twilio stand-in; answers its body. */
export async function replyNumber(s: TestStack, phone: string, count: number, timeoutMs = 15_000) {
  const messages = await eventually(`reply ${count} to the sender`, () => {
    const sent = sentTo(s, phone);
    return sent.length >= count && sent;
  }, timeoutMs);
  return messages[count - 1].body;
}
