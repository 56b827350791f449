/** Sends WhatsApp messages. Handlers see only this interface. */
export interface WhatsAppMessage {
  /** E.164 phone number, without the `whatsapp:` prefix. */
  to: string;
  body: string;
}

export interface SentWhatsAppMessage {
  messageSid: string;
  status: string;
  /** The clinic's number, as `whatsapp:+...` (when the sender knows it). */
  from?: string;
}

export interface WhatsAppSender {
  readonly name: string;
  send(message: WhatsAppMessage): Promise<SentWhatsAppMessage>;
}
