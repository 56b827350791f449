import type { WhatsAppMessage, WhatsAppSender } from "./sender.ts";

const LOCAL_FROM = "whatsapp:+14155238886";

/**
 * The local default: prints the message instead of sending it, so that a
 * developer can read the code they would have received. Never used when
 * WHATSAPP_SENDER=twilio.
 */
export function createConsoleWhatsAppSender(
  print: (line: string) => void = (line) => console.error(line),
): WhatsAppSender {
  return {
    name: "console",
    send(message: WhatsAppMessage) {
      print(`[whatsapp → ${message.to}] ${message.body}`);
      return Promise.resolve({
        messageSid: `SM${crypto.randomUUID().replaceAll("-", "")}`,
        status: "sent",
        from: LOCAL_FROM,
      });
    },
  };
}
