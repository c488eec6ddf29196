import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const USER = 'sim-user';
export const PASS = 'sim-pass-Zx81';

export interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** One API call over real HTTP: GET with a query string, or POST with a form body. */
export async function call(
  base: string,
  path: string,
  params: Record<string, string>,
  method: 'GET' | 'POST' = 'GET',
  signal?: AbortSignal,
): Promise<Answer> {
  const form = new URLSearchParams(params);
  const response =
    method === 'GET'
      ? await fetch(`${base}${path}?${form}`, { signal })
      : await fetch(`${base}${path}`, { method: 'POST', body: form, signal });
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    body: await response.text(),
  };
}

export function rechargeParams(orderid: string, amount: string, extra: Record<string, string> = {}) {
  return {
    username: USER,
    pwd: PASS,
    operatorcode: 'A',
    circlecode: '5',
    number: '9876543210',
    amount,
    orderid,
    ...extra,
  };
}

export async function json<T>(
  base: string,
  path: string,
  init?: RequestInit,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}${path}`, init);
  return { status: response.status, body: (await response.json()) as T };
}

export function postJson(body: unknown): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** One request the receiver got: when it arrived and when it was answered (performance.now). */
export interface ReceivedCallback {
  readonly url: URL;
  readonly arrived: number;
  answered: number | undefined;
}

export interface Receiver {
  readonly url: string;
  /** Every request URL, in arrival order. */
  readonly hits: URL[];
  /** The same requests with timings. */
  readonly received: ReceivedCallback[];
  /** Most requests open at the same time since the last clear(). */
  maxInFlight(): number;
  /** How long to wait before answering, and with which status (default 0 ms, 200). */
  behave(options: { delayMs?: number; statusCode?: number }): void;
  clear(): void;
  next(): Promise<URL>;
  /** Resolves when `count` requests have been answered. */
  answered(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A real callback receiver on loopback: records every request URL, answers after a settable delay. */
export async function startReceiver(): Promise<Receiver> {
  const hits: URL[] = [];
  const received: ReceivedCallback[] = [];
  const waiters: ((u: URL) => void)[] = [];
  let delayMs = 0;
  let statusCode = 200;
  let inFlight = 0;
  let maxInFlight = 0;
  const server: Server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://receiver');
    const entry: ReceivedCallback = { url, arrived: performance.now(), answered: undefined };
    hits.push(url);
    received.push(entry);
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    waiters.shift()?.(url);
    const code = statusCode;
    setTimeout(() => {
      inFlight -= 1;
      entry.answered = performance.now();
      res.statusCode = code;
      res.end(code === 200 ? 'OK' : 'NO');
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/callbacks/a1topup/tok123`,
    hits,
    received,
    maxInFlight: () => maxInFlight,
    behave(options) {
      delayMs = options.delayMs ?? 0;
      statusCode = options.statusCode ?? 200;
    },
    clear() {
      hits.length = 0;
      received.length = 0;
      waiters.length = 0;
      maxInFlight = inFlight;
    },
    next: () =>
      new Promise<URL>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no callback within 5 s')), 5_000);
        waiters.push((u) => {
          clearTimeout(timer);
          resolve(u);
        });
      }),
    answered: async (count, timeoutMs = 5_000) => {
      await waitUntil(
        `${count} callbacks answered`,
        () => (received.filter((r) => r.answered !== undefined).length >= count ? true : undefined),
        timeoutMs,
      );
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function waitUntil<T>(what: string, probe: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An answer read chunk by chunk, with when each chunk arrived (ms after the request started). */
export interface TimedAnswer {
  readonly status: number;
  readonly contentLength: number | undefined;
  readonly body: string;
  readonly chunks: readonly { readonly at: number; readonly bytes: number }[];
  /** Whether the connection ended before the whole body arrived. */
  readonly cut: boolean;
}

/** POSTs a body and records the arrival of every chunk of the answer (for slow-loris answers). */
export function timedPost(
  url: string,
  body: string,
  contentType: string,
  headers: Record<string, string> = {},
): Promise<TimedAnswer> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const target = new URL(url);
    const req = request(
      target,
      { method: 'POST', headers: { 'content-type': contentType, ...headers } },
      (res: IncomingMessage) => {
        const chunks: { at: number; bytes: number }[] = [];
        const parts: Buffer[] = [];
        let done = false;
        const finish = (cut: boolean) => {
          if (done) return;
          done = true;
          const declared = Number(res.headers['content-length']);
          resolve({
            status: res.statusCode ?? 0,
            contentLength: Number.isFinite(declared) ? declared : undefined,
            body: Buffer.concat(parts).toString('utf8'),
            chunks,
            cut,
          });
        };
        res.on('data', (chunk: Buffer) => {
          chunks.push({ at: performance.now() - started, bytes: chunk.length });
          parts.push(chunk);
        });
        res.on('end', () => finish(false));
        res.on('error', () => finish(true));
        res.on('close', () => finish(!res.complete));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
