/**
 * A local stand-in for OpenAI's Chat Completions API, speaking its wire
 * format so that the official openai SDK talks to it unchanged:
 * POST <base>/chat/completions with `Authorization: Bearer <key>`, answering
 * a `chat.completion` object (choices[0].message with content or
 * tool_calls, finish_reason, usage), and errors as
 * `{ error: { message, type, code } }` with the HTTP status.
 *
 * It is deterministic, not a language model. On the last message:
 *   - a tool result: it answers with the results it was given, as text;
 *   - the doctor's text, if the request offers the tool:
 *       "hoy" / "today"                         → list_todays_appointments {}
 *       "próximo" / "next" + a UUID or "de <name>" → find_patient_next_appointment
 *       "cancelar" / "confirmar" + a UUID         → propose_appointment_change
 *   - a summary request (the system prompt asks to summarize): a short summary;
 *   - anything else: a fixed greeting that says what it can do.
 * Tests make it fail with failNext(count, status), as an outage would.
 */

export interface OpenAIStandIn {
  /** Serves `${base}/chat/completions` (base: /openai/v1 on the gateway). */
  handle(request: Request): Promise<Response>;
  /** The next `count` requests answer `status` (500 by default) with OpenAI's error body. */
  failNext(count: number, status?: number): void;
  /** Answers every later request `ms` late (0: at once), as a slow service would. */
  setDelay(ms: number): void;
  /** Every request received (its JSON body), newest last. */
  readonly requests: ChatRequest[];
}

interface ChatMessage {
  role: string;
  content?: string | null;
  name?: string;
  tool_call_id?: string;
}

interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  tools?: Array<{ type: string; function: { name: string } }>;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

export const STAND_IN_GREETING =
  "Hola, soy el asistente de la clínica. Puedo decirte tus turnos de hoy, el " +
  "próximo turno de un paciente, y cancelar o confirmar un turno.";

const errorResponse = (status: number, message: string, type: string, code: string | null = null) =>
  Response.json({ error: { message, type, param: null, code } }, { status });

export function createOpenAIStandIn(): OpenAIStandIn {
  const failures: number[] = [];
  const requests: ChatRequest[] = [];

  function decide(body: ChatRequest): { content: string | null; toolCall?: { name: string; args: unknown } } {
    const last = body.messages[body.messages.length - 1];
    const system = body.messages.find((m) => m.role === "system")?.content ?? "";
    if (last?.role === "tool") {
      const results = body.messages.filter((m) => m.role === "tool").map((m) => m.content ?? "");
      return { content: `Esto es lo que encontré: ${results.join(" ")}` };
    }
    if (/^Resume la conversación/.test(system)) {
      return { content: `Resumen: ${(last?.content ?? "").replace(/\s+/g, " ").slice(0, 200)}` };
    }
    const text = last?.role === "user" ? last.content ?? "" : "";
    const offered = new Set((body.tools ?? []).map((t) => t.function.name));
    const id = UUID.exec(text)?.[0];
    if (offered.has("list_todays_appointments") && /\b(hoy|today)\b/i.test(text)) {
      return { content: null, toolCall: { name: "list_todays_appointments", args: {} } };
    }
    if (offered.has("find_patient_next_appointment") && /(pr[oó]xim|next)/i.test(text)) {
      const name = /\bde\s+([A-Za-zÁÉÍÓÚáéíóúñÑ ]+?)\s*\??$/.exec(text)?.[1];
      if (id || name) {
        return {
          content: null,
          toolCall: {
            name: "find_patient_next_appointment",
            args: id ? { patientId: id } : { patientName: name },
          },
        };
      }
    }
    if (offered.has("propose_appointment_change") && id && /(cancel|confirm)/i.test(text)) {
      const action = /cancel/i.test(text) ? "cancel" : "confirm";
      return {
        content: null,
        toolCall: { name: "propose_appointment_change", args: { appointmentId: id, action } },
      };
    }
    return { content: STAND_IN_GREETING };
  }

  let delayMs = 0;
  return {
    requests,
    failNext(count, status = 500) {
      for (let i = 0; i < count; i++) failures.push(status);
    },
    setDelay(ms) {
      delayMs = ms;
    },
    async handle(request) {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      const { pathname } = new URL(request.url);
      if (!pathname.endsWith("/chat/completions")) {
        return errorResponse(
          404,
          `Unknown request URL: ${request.method} ${pathname}`,
          "invalid_request_error",
        );
      }
      if (request.method !== "POST") return errorResponse(405, "Method not allowed", "invalid_request_error");
      if (!/^Bearer \S+$/.test(request.headers.get("Authorization") ?? "")) {
        return errorResponse(
          401,
          "You didn't provide an API key.",
          "invalid_request_error",
          "invalid_api_key",
        );
      }
      let body: ChatRequest;
      try {
        body = await request.json();
      } catch {
        return errorResponse(
          400,
          "We could not parse the JSON body of your request.",
          "invalid_request_error",
        );
      }
      if (typeof body?.model !== "string" || !Array.isArray(body.messages) || body.messages.length === 0) {
        return errorResponse(400, "'model' and 'messages' are required.", "invalid_request_error");
      }
      requests.push(body);
      const failure = failures.shift();
      if (failure) {
        return errorResponse(
          failure,
          "The server had an error while processing your request.",
          "server_error",
        );
      }

      const decision = decide(body);
      const promptTokens = Math.ceil(JSON.stringify(body.messages).length / 4);
      const completionTokens = decision.content ? Math.max(1, Math.ceil(decision.content.length / 4)) : 12;
      return Response.json({
        id: `chatcmpl-${crypto.randomUUID().replaceAll("-", "")}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{
          index: 0,
          message: {
            role: "assistant",
            content: decision.content,
            refusal: null,
            ...(decision.toolCall
              ? {
                tool_calls: [{
                  id: `call_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`,
                  type: "function",
                  function: {
                    name: decision.toolCall.name,
                    arguments: JSON.stringify(decision.toolCall.args),
                  },
                }],
              }
              : {}),
          },
          logprobs: null,
          finish_reason: decision.toolCall ? "tool_calls" : "stop",
        }],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        },
      }, { headers: { "x-request-id": `req_${crypto.randomUUID().replaceAll("-", "")}` } });
    },
  };
}
