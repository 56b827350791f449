/**
 * A local stand-in for Twilio's Messages API (2010-04-01), speaking its wire
 * format so that the official twilio SDK talks to it unchanged (its requests
 * reach it through the SDK's custom httpClient option, TWILIO_API_URL):
 *
 *   POST /2010-04-01/Accounts/{AccountSid}/Messages.json   form: To, From, Body, StatusCallback
 *   GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json
 *
 * Basic auth (AccountSid:AuthToken) is checked; answers are Twilio's message
 * resource in its JSON (snake_case, RFC 2822 dates), errors Twilio's
 * `{ code, message, more_info, status }`. Like Twilio, it reports each
 * message's status (sent, then delivered) to its StatusCallback URL, signed
 * with X-Twilio-Signature. Nothing is delivered to a phone: messages are kept
 * in memory for whoever started it (the tests read them).
 */
import twilio from "twilio";

export interface TwilioStandInOptions {
  accountSid: string;
  authToken: string;
}

export interface StoredTwilioMessage {
  sid: string;
  to: string;
  from: string;
  body: string;
  status: string;
  statusCallback?: string;
  dateCreated: Date;
  dateUpdated: Date;
  dateSent?: Date;
}

export interface TwilioStandIn {
  /** Serves /2010-04-01/*. */
  handle(request: Request): Promise<Response>;
  /** Every message created, oldest first. */
  readonly messages: StoredTwilioMessage[];
  /** The next `count` message creations answer `status` (500 by default), as an outage would. */
  failNext(count: number, status?: number): void;
  /** Answers every later request `ms` late (0: at once), as a slow service would. */
  setDelay(ms: number): void;
  /** Waits for the status callbacks still being delivered. */
  settle(): Promise<void>;
}

const rfc2822 = (date: Date) => date.toUTCString().replace("GMT", "+0000");

const twilioError = (status: number, code: number, message: string) =>
  Response.json({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }, {
    status,
  });

export function createTwilioStandIn(options: TwilioStandInOptions): TwilioStandIn {
  const messages: StoredTwilioMessage[] = [];
  const failures: number[] = [];
  const callbacks = new Set<Promise<unknown>>();
  const expectedAuth = `Basic ${btoa(`${options.accountSid}:${options.authToken}`)}`;

  const resource = (m: StoredTwilioMessage) => ({
    account_sid: options.accountSid,
    api_version: "2010-04-01",
    body: m.body,
    date_created: rfc2822(m.dateCreated),
    date_sent: m.dateSent ? rfc2822(m.dateSent) : null,
    date_updated: rfc2822(m.dateUpdated),
    direction: "outbound-api",
    error_code: null,
    error_message: null,
    from: m.from,
    messaging_service_sid: null,
    num_media: "0",
    num_segments: "1",
    price: m.status === "delivered" ? "-0.00500" : null,
    price_unit: "USD",
    sid: m.sid,
    status: m.status,
    subresource_uris: { media: `/2010-04-01/Accounts/${options.accountSid}/Messages/${m.sid}/Media.json` },
    to: m.to,
    uri: `/2010-04-01/Accounts/${options.accountSid}/Messages/${m.sid}.json`,
  });

  async function report(m: StoredTwilioMessage, status: string) {
    m.status = status;
    m.dateUpdated = new Date();
    if (status === "sent") m.dateSent = m.dateUpdated;
    if (!m.statusCallback) return;
    const params = {
      AccountSid: options.accountSid,
      From: m.from,
      MessageSid: m.sid,
      MessageStatus: status,
      SmsSid: m.sid,
      SmsStatus: status,
      To: m.to,
    };
    const signature = twilio.getExpectedTwilioSignature(options.authToken, m.statusCallback, params);
    await fetch(m.statusCallback, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature },
      body: new URLSearchParams(params),
    }).then((res) => res.body?.cancel()).catch(() => {});
  }

  function track(promise: Promise<unknown>) {
    callbacks.add(promise);
    promise.finally(() => callbacks.delete(promise));
  }

  let delayMs = 0;
  return {
    messages,
    failNext(count, status = 500) {
      for (let i = 0; i < count; i++) failures.push(status);
    },
    async settle() {
      while (callbacks.size) await Promise.all([...callbacks]);
    },
    setDelay(ms) {
      delayMs = ms;
    },
    async handle(request) {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      const { pathname } = new URL(request.url);
      const match = /^\/2010-04-01\/Accounts\/([A-Za-z0-9]+)\/Messages(?:\/([A-Za-z0-9]+))?\.json$/.exec(
        pathname,
      );
      if (!match) return twilioError(404, 20404, "The requested resource was not found");
      if (request.headers.get("Authorization") !== expectedAuth || match[1] !== options.accountSid) {
        return twilioError(401, 20003, "Authenticate");
      }
      if (request.method === "GET" && match[2]) {
        const found = messages.find((m) => m.sid === match[2]);
        return found
          ? Response.json(resource(found))
          : twilioError(404, 20404, "The requested resource was not found");
      }
      if (request.method !== "POST" || match[2]) return twilioError(405, 20004, "Method not allowed");

      const form = new URLSearchParams(await request.text());
      const to = form.get("To") ?? "";
      const from = form.get("From") ?? "";
      const body = form.get("Body") ?? "";
      if (!/^whatsapp:\+[1-9][0-9]{6,14}$/.test(to)) {
        return twilioError(400, 21211, `Invalid 'To' Phone Number: ${to.replace(/\d(?=\d{4})/g, "*")}`);
      }
      if (!/^whatsapp:\+[1-9][0-9]{6,14}$/.test(from)) return twilioError(400, 21212, "Invalid From Number");
      if (!body || body.length > 1600) {
        return twilioError(400, 21617, "The concatenated message body exceeds the 1600 character limit");
      }
      const failure = failures.shift();
      if (failure) return twilioError(failure, 20500, "An internal server error has occurred");

      const now = new Date();
      const message: StoredTwilioMessage = {
        sid: `SM${crypto.randomUUID().replaceAll("-", "")}`,
        to,
        from,
        body,
        status: "queued",
        statusCallback: form.get("StatusCallback") ?? undefined,
        dateCreated: now,
        dateUpdated: now,
      };
      messages.push(message);
      const answer = resource(message);
      track((async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        await report(message, "sent");
        await report(message, "delivered");
      })());
      return Response.json(answer, { status: 201 });
    },
  };
}
