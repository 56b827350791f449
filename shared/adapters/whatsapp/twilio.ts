import type { WhatsAppMessage, WhatsAppSender } from "./sender.ts";

export interface TwilioSettings {
  accountSid: string;
  authToken: string;
  /** The clinic's WhatsApp sender, E.164 or `whatsapp:+...`. */
  from: string;
}

type TwilioClient = import("twilio").Twilio;

const whatsapp = (phone: string) => phone.startsWith("whatsapp:") ? phone : `whatsapp:${phone}`;

/** Sends through Twilio's Messages API with the official SDK, loaded on first use. */
export function createTwilioWhatsAppSender(settings: TwilioSettings): WhatsAppSender {
  let client: Promise<TwilioClient> | undefined;
  return {
    name: "twilio",
    async send(message: WhatsAppMessage) {
      client ??= import("twilio").then((m) => new m.default.Twilio(settings.accountSid, settings.authToken));
      const sent = await (await client).messages.create({
        from: whatsapp(settings.from),
        to: whatsapp(message.to),
        body: message.body,
      });
      return { messageSid: sent.sid, status: sent.status };
    },
  };
}
