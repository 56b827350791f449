/**
 * The assistant's model: chat completions with tool calls through the
 * official openai SDK, loaded on first use (the api function's cold start
 * does not pay for it). OPENAI_BASE_URL points it at any OpenAI-compatible
 * server (locally, supabase/local/openai/).
 */
import type { OpenAI } from "openai";

export type ChatMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;
export type ChatTool = OpenAI.Chat.Completions.ChatCompletionTool;

export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as the model wrote them (JSON text). */
  arguments: string;
}

export interface Completion {
  content: string | null;
  toolCalls: ToolCall[];
  completionTokens: number;
}

export interface ChatModel {
  readonly model: string;
  complete(messages: ChatMessage[], tools?: ChatTool[]): Promise<Completion>;
}

export class ChatModelUnavailableError extends Error {
  override name = "ChatModelUnavailableError";
}

export interface OpenAISettings {
  apiKey?: string;
  baseUrl?: string;
  model: string;
  /** Retries with exponential backoff (the SDK's: 0.5 s, 1 s, 2 s, ... with jitter) on 5xx, 429 and network errors. */
  maxRetries?: number;
  timeoutMs?: number;
}

type OpenAIClient = import("openai").OpenAI;

export function createOpenAIChatModel(settings: OpenAISettings): ChatModel {
  let client: Promise<OpenAIClient> | undefined;
  return {
    model: settings.model,
    async complete(messages, tools) {
      if (!settings.apiKey) throw new ChatModelUnavailableError("OPENAI_API_KEY is not set");
      client ??= import("openai").then((m) =>
        new m.OpenAI({
          apiKey: settings.apiKey,
          baseURL: settings.baseUrl,
          maxRetries: settings.maxRetries ?? 2,
          timeout: settings.timeoutMs ?? 30_000,
        })
      );
      const completion = await (await client).chat.completions.create({
        model: settings.model,
        messages,
        ...(tools?.length ? { tools, tool_choice: "auto" as const } : {}),
      });
      const message = completion.choices[0]?.message;
      return {
        content: message?.content ?? null,
        toolCalls: (message?.tool_calls ?? []).flatMap((call) =>
          call.type === "function"
            ? [{ id: call.id, name: call.function.name, arguments: call.function.arguments }]
            : []
        ),
        completionTokens: completion.usage?.completion_tokens ?? 0,
      };
    },
  };
}
