/**
 * A small keep-alive HTTP/1.1 client for the benchmarks (node:http, one Agent): cheap enough to
 * share two cores with the system under test, and it counts every status.
 */
import { Agent, request } from 'node:http';

export interface JsonPoster {
  /** POSTs `body` (JSON text) to `path`; answers the status (0 on a connection error). */
  post(path: string, body: string): Promise<number>;
  readonly statuses: Map<number, number>;
  close(): void;
}

export function jsonPoster(baseUrl: string, headers: Record<string, string>, maxSockets: number): JsonPoster {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets });
  const statuses = new Map<number, number>();
  const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
  return {
    statuses,
    post(path, body) {
      return new Promise((done) => {
        const req = request(
          {
            agent,
            host: url.hostname,
            port: url.port,
            method: 'POST',
            path,
            headers: {
              ...headers,
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
            },
          },
          (res) => {
            res.resume();
            res.once('end', () => {
              count(res.statusCode ?? 0);
              done(res.statusCode ?? 0);
            });
          },
        );
        req.once('error', () => {
          count(0);
          done(0);
        });
        req.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

/** Runs `task(i)` for i in [0, count) with at most `lanes` at once. */
export async function inLanes(
  count: number,
  lanes: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(lanes, count) }, lane));
}

/** `{"200":5,"202":995}` style text of the status counts. */
export function statusText(statuses: Map<number, number>): string {
  return [...statuses.entries()]
    .sort(([a], [b]) => a - b)
    .map(([status, n]) => `${status === 0 ? 'conn error' : status}: ${n.toLocaleString('en-US')}`)
    .join(', ');
}
