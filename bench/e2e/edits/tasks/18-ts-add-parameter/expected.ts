// client.ts - typed HTTP client for the completions API.
//
// Thin wrapper over fetch with retries for 429/503 and a typed result. Used by
// the web playground and the integration tests.

export interface CompletionBody {
  model: string;
  prompt: string;
  max_tokens: number;
  temperature: number;
  stop?: string[];
}

export interface CompletionResult {
  text: string;
  finishReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
}

export interface ClientOptions {
  baseUrl: string;
  model: string;
  apiKey?: string;
  maxRetries?: number;
}

const RETRYABLE = new Set([429, 503]);

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function buildCompletionBody(
  model: string,
  prompt: string,
  maxTokens: number,
  temperature: number,
  stop: string[] = [],
): CompletionBody {
  return {
    model,
    prompt,
    max_tokens: maxTokens,
    temperature,
    stop,
  };
}

export class GlintClient {
  private readonly opts: Required<Omit<ClientOptions, 'apiKey'>> & { apiKey?: string };

  constructor(opts: ClientOptions) {
    this.opts = { maxRetries: 2, ...opts };
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { 'content-type': 'application/json' };
    if (this.opts.apiKey) {
      h.authorization = `Bearer ${this.opts.apiKey}`;
    }
    return h;
  }

  private async postJson<T>(path: string, body: unknown): Promise<T> {
    let attempt = 0;
    for (;;) {
      const res = await fetch(`${this.opts.baseUrl}${path}`, {
        method: 'POST',
        headers: this.headers(),
        body: JSON.stringify(body),
      });
      if (res.ok) {
        return (await res.json()) as T;
      }
      if (RETRYABLE.has(res.status) && attempt < this.opts.maxRetries) {
        const retryAfter = Number(res.headers.get('retry-after') ?? '1');
        await sleep(Math.min(10, retryAfter) * 1000);
        attempt++;
        continue;
      }
      const detail = await res.text();
      throw new ApiError(res.status, `POST ${path} failed: ${res.status} ${detail}`);
    }
  }

  async complete(
    prompt: string,
    maxTokens = 128,
    temperature = 0.7,
    stop: string[] = [],
  ): Promise<CompletionResult> {
    const body = buildCompletionBody(this.opts.model, prompt, maxTokens, temperature, stop);
    const raw = await this.postJson<{
      choices: { text: string; finish_reason: 'stop' | 'length' }[];
      usage: { prompt_tokens: number; completion_tokens: number };
    }>('/v1/completions', body);
    const choice = raw.choices[0];
    return {
      text: choice.text,
      finishReason: choice.finish_reason,
      promptTokens: raw.usage.prompt_tokens,
      completionTokens: raw.usage.completion_tokens,
    };
  }
}
