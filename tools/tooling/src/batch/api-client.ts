/**
 * Finding the API and talking to it. Every failure becomes a CliError whose message is one
 * sentence a person can act on: nothing answers, the key is refused, the API's own error message,
 * or a server that is not the Rechargeflow API at all.
 */
import { RechargeflowError } from '@rechargeflow/domain';
import type { z } from 'zod';
import { apiErrorSchema } from './api-types.ts';
import { pidAlive, readRunFile, runFilePath } from './run-file.ts';

/**
 * A failure the CLI reports as its message alone (one sentence), exit code 1. `retryable`: the
 * API may answer a moment later (not reachable, 429, 5xx), so a batch being followed is looked at
 * again rather than given up on.
 */
export class CliError extends RechargeflowError {}

export const DEFAULT_URL = 'http://127.0.0.1:8080';

export interface ApiTarget {
  /** Without a trailing slash. */
  readonly url: string;
  readonly key: string | undefined;
  /** Where the URL came from, for messages: `RECHARGEFLOW_URL`, `npm start (pid 123)`, `the default`. */
  readonly from: string;
}

/**
 * The API to talk to: RECHARGEFLOW_URL when set; else the one `npm start` runs (its run file,
 * when the pid in it is alive); else http://127.0.0.1:8080. The key: RECHARGEFLOW_API_KEY, else the
 * demo key from the run file (only for the URL the run file names).
 */
export function locateApi(env: Readonly<Record<string, string | undefined>> = process.env): ApiTarget {
  const envKey = env.RECHARGEFLOW_API_KEY?.trim() || undefined;
  const explicit = env.RECHARGEFLOW_URL?.trim();
  if (explicit) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(explicit);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol))
      throw new CliError(`RECHARGEFLOW_URL is not an http(s) URL such as ${DEFAULT_URL}: "${explicit}"`);
    return { url: explicit.replace(/\/+$/, ''), key: envKey, from: 'RECHARGEFLOW_URL' };
  }
  const run = readRunFile(runFilePath(env));
  if (run && pidAlive(run.pid))
    return {
      url: run.url.replace(/\/+$/, ''),
      key: envKey ?? run.apiKey,
      from: `npm start, pid ${run.pid}`,
    };
  return {
    url: DEFAULT_URL,
    key: envKey,
    from: 'the default: no npm start running, RECHARGEFLOW_URL unset',
  };
}

export interface CallOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: RequestInit['body'];
  /** Give up after this long (default 30 s); null: never (an upload takes as long as it takes). */
  readonly timeoutMs?: number | null;
  /** The content type a good answer must have (default application/json). */
  readonly expect?: 'json' | 'csv';
  /** Called with the fetch failure first: a failure of the request body's source (the file). */
  readonly bodyFailure?: () => string | undefined;
}

const CONNECT_FAILURES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'the connection was reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  UND_ERR_SOCKET: 'the connection was closed',
  EPIPE: 'the connection was closed',
};

function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function mediaType(response: Response): string {
  return (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

export class ApiClient {
  readonly target: ApiTarget;

  constructor(target: ApiTarget) {
    this.target = target;
  }

  /** One sentence: why nothing usable came back from the URL. */
  private unreachable(error: unknown, path: string): CliError {
    const { url, from } = this.target;
    if ((error as Error)?.name === 'TimeoutError')
      return new CliError(`the API at ${url} did not answer ${path} within 30 seconds`, {
        cause: error,
        retryable: true,
      });
    const code = errorCode(error);
    const hint =
      from === 'RECHARGEFLOW_URL'
        ? 'is the API running there?'
        : from.startsWith('npm start')
          ? 'npm start may be stopping; run it again'
          : 'start the system with npm start, or set RECHARGEFLOW_URL to where the API runs';
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
      return new CliError(`cannot find the host of ${url} (${from}); check RECHARGEFLOW_URL`, {
        cause: error,
      });
    const what = (code && CONNECT_FAILURES[code]) ?? (error as Error)?.message ?? String(error);
    return new CliError(`nothing answers at ${url} (${what}): ${hint}`, { cause: error, retryable: true });
  }

  private notTheApi(response: Response, found: string): CliError {
    return new CliError(
      `the server at ${this.target.url} is not the Rechargeflow API (it answered ${found}, HTTP ${response.status})`,
    );
  }

  /** A refusal in the API's error shape, as one sentence; anything else: not the API. */
  private async refusal(response: Response): Promise<CliError> {
    const location = response.headers.get('location');
    if (response.status < 400 && location)
      return new CliError(
        `the server at ${this.target.url} redirects to ${location}: set RECHARGEFLOW_URL to the API's own address`,
      );
    const type = mediaType(response);
    if (type !== 'application/json') return this.notTheApi(response, type || 'without a content type');
    const parsed = apiErrorSchema.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) return this.notTheApi(response, 'JSON that is not its error shape');
    if (response.status === 401)
      return new CliError(
        `the API at ${this.target.url} refused the API key (401): set RECHARGEFLOW_API_KEY to a key it knows (npm start prints one)`,
      );
    const sentence = parsed.data.message.replace(/[.\s]+$/, '');
    const retry = response.headers.get('retry-after');
    return new CliError(
      `the API answered ${response.status}: ${sentence}${retry ? ` (retry after ${retry} s)` : ''}`,
      { retryable: response.status === 429 || response.status >= 500 },
    );
  }

  /** Sends one request; resolves with a 2xx answer of the expected content type, else throws. */
  async call(path: string, options: CallOptions = {}): Promise<Response> {
    if (!this.target.key)
      throw new CliError(
        `no API key for ${this.target.url}: set RECHARGEFLOW_API_KEY (npm start prints one; npm run api-key makes one)`,
      );
    const timeoutMs = options.timeoutMs === undefined ? 30_000 : options.timeoutMs;
    const accept = options.expect === 'csv' ? 'text/csv' : 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.target.url}${path}`, {
        method: options.method ?? 'GET',
        headers: { authorization: `Bearer ${this.target.key}`, accept, ...options.headers },
        ...(options.body !== undefined ? { body: options.body, duplex: 'half' } : {}),
        ...(timeoutMs !== null ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
        redirect: 'manual',
      } as RequestInit);
    } catch (error) {
      const own = options.bodyFailure?.();
      if (own) throw new CliError(own, { cause: error });
      throw this.unreachable(error, path);
    }
    if (response.status >= 300) throw await this.refusal(response);
    const type = mediaType(response);
    const wanted = options.expect === 'csv' ? 'text/csv' : 'application/json';
    if (type !== wanted) {
      await response.body?.cancel();
      throw this.notTheApi(response, type || 'without a content type');
    }
    return response;
  }

  /** A JSON answer checked against its schema. */
  async json<T>(
    path: string,
    schema: z.ZodType<T>,
    options: CallOptions = {},
  ): Promise<{ status: number; body: T }> {
    const response = await this.call(path, options);
    const raw: unknown = await response.json().catch(() => undefined);
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw this.notTheApi(response, `JSON that is not what ${path} answers`);
    return { status: response.status, body: parsed.data };
  }
}
