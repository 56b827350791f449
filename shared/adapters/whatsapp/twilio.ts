import type { SentWhatsAppMessage, WhatsAppMessage, WhatsAppSender } from "./sender.ts";

export interface TwilioSettings {
  accountSid: string;
  authToken: string;
  /** The clinic's WhatsApp sender, E.164 or `whatsapp:+...`. */
  from: string;
  /** Where the SDK's requests go instead of https://api.twilio.com (a local stand-in). */
  apiUrl?: string;
  /** Where Twilio reports each message's status (MessageStatus). */
  statusCallbackUrl?: string;
}

type TwilioModule = typeof import("twilio");
type TwilioClient = import("twilio").Twilio;

export const whatsappAddress = (phone: string) => phone.startsWith("whatsapp:") ? phone : `whatsapp:${phone}`;

/**
 * A client whose requests go to `apiUrl`: the SDK builds every URL on
 * api.twilio.com, and a custom httpClient (a supported option of the SDK) is
 * the one place to send them elsewhere. Everything else (form encoding, Basic
 * auth, the answer's parsing) is the SDK's own.
 */
function createClient(twilio: TwilioModule, settings: TwilioSettings): TwilioClient {
  if (!settings.apiUrl) return new twilio.Twilio(settings.accountSid, settings.authToken);
  const target = new URL(settings.apiUrl);
  class RebasedRequestClient extends twilio.RequestClient {
    // deno-lint-ignore no-explicit-any
    override request<T>(opts: any) {
      const uri = new URL(opts.uri);
      uri.protocol = target.protocol;
      uri.host = target.host;
      return super.request<T>({ ...opts, uri: uri.href });
    }
  }
  return new twilio.Twilio(settings.accountSid, settings.authToken, {
    httpClient: new RebasedRequestClient(),
  });
}

/** Sends through Twilio's Messages API with the official SDK, loaded on first use. */
export function createTwilioWhatsAppSender(settings: TwilioSettings): WhatsAppSender {
  let client: Promise<TwilioClient> | undefined;
  return {
    name: "twilio",
    async send(message: WhatsAppMessage): Promise<SentWhatsAppMessage> {
      client ??= import("twilio").then((m) => createClient(m.default, settings));
      const sent = await (await client).messages.create({
        from: whatsappAddress(settings.from),
        to: whatsappAddress(message.to),
        body: message.body,
        ...(settings.statusCallbackUrl ? { statusCallback: settings.statusCallbackUrl } : {}),
      });
      return { messageSid: sent.sid, status: sent.status, from: sent.from };
    },
  };
}

/** Whether `signature` is Twilio's X-Twilio-Signature of these form parameters sent to `url`. */
export async function isTwilioSignatureValid(
  authToken: string,
  signature: string,
  url: string,
  params: Record<string, string>,
): Promise<boolean> {
  const { default: twilio } = await import("twilio");
  return twilio.validateRequest(authToken, signature, url, params);
}
