import { createServer, type IncomingMessage, type Server } from 'node:http';
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

/** A real callback receiver on loopback: records every request URL. */
export async function startReceiver(): Promise<{
  url: string;
  hits: URL[];
  next(): Promise<URL>;
  close(): Promise<void>;
}> {
  const hits: URL[] = [];
  const waiters: ((u: URL) => void)[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://receiver');
    hits.push(url);
    waiters.shift()?.(url);
    res.end('OK');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/callbacks/a1topup/tok123`,
    hits,
    next: () =>
      new Promise<URL>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no callback within 5 s')), 5_000);
        waiters.push((u) => {
          clearTimeout(timer);
          resolve(u);
        });
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
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
