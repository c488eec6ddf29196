/**
 * `ingest`: latency of `POST /v1/recharges` at a fixed rate (default 1,000 requests/s) with
 * autocannon, each request a new order (unique orderId from setupRequest).
 *
 * Pacing: autocannon's own `overallRate` gives each connection a per-second quota that it spends
 * back to back at the start of every second (bursts of up to `overallRate` requests, then idle),
 * and its coordinated-omission correction takes the expected interval as `Math.ceil(1 / rate)`
 * = 1 ms, which counts a response of L ms as about L responses. So the runs here pace each
 * connection themselves (the "equivalent"): `connections` connections, one request per
 * connection every connections / rate seconds, the connections' starts evenly spread, correction
 * off. A response slower than that period delays that connection's next request: counted as
 * "late" (requests sent vs the schedule). One run with autocannon's own overallRate is kept for
 * comparison.
 *
 * Runs (each after a 3 s warm-up at the same rate, not counted); 1 and 2 alternate `repeats` times:
 * 1. baseline: a bare Fastify route doing one raw BullMQ add (tools/bench/src/raw-api.ts);
 * 2. the API with Redis only (no worker, no simulator): orders are written and queued, nobody
 *    takes them;
 * 3. the API while one worker (A1TOPUP_CONCURRENCY 50) drains the queue against the simulator
 *    at 0 ms — on the same 2 cores;
 * 4. as 2, paced by autocannon's own overallRate (for comparison only).
 */
import autocannon from 'autocannon';
import type { Redis } from 'ioredis';
import {
  deleteByPrefix,
  fmt,
  freePort,
  load1,
  PART_TIMEOUT_MS,
  type Part,
  REDIS_URL,
  runPrefix,
  say,
  startPart,
  type Table,
} from './lib.ts';
import { BENCH_CLIENT, countInState, rechargeBody, startSystem } from './system.ts';

export interface IngestOptions {
  readonly rate: number;
  readonly seconds: number;
  readonly logDir: string;
  readonly connections?: number;
  /** How many times the baseline and the API-only run are repeated (alternating). */
  readonly repeats?: number;
}

interface LoadFigures {
  readonly load: number;
  readonly result: autocannon.Result;
  /** Paced mode: request slots, and slots whose connection still waited for an answer (sent late). */
  readonly slots: number;
  readonly late: number;
}

let sequence = 0;

/** One autocannon run against `url` at `rate` requests/s for `seconds`. */
export async function fire(
  url: string,
  apiKey: string,
  rate: number,
  seconds: number,
  connections: number,
  mode: 'paced' | 'overallRate',
  tag: string,
): Promise<LoadFigures> {
  const load = load1();
  const clients: autocannon.Client[] = [];
  const periodMs = (connections * 1000) / rate;
  const request: autocannon.Request = {
    method: 'POST',
    path: '/v1/recharges',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    setupRequest: (req) => {
      const i = sequence++;
      return { ...req, body: rechargeBody(`ing-${tag}-${i}`, i) };
    },
  };
  let slots = 0;
  let late = 0;
  const instance = autocannon({
    url,
    connections,
    duration: seconds,
    timeout: 10,
    requests: [request],
    ...(mode === 'overallRate'
      ? { overallRate: rate }
      : {
          // A nominal 1/s per connection (the timers are replaced below); no correction.
          connectionRate: 1,
          ignoreCoordinatedOmission: true,
          setupClient: (client: autocannon.Client) => {
            // One request per period, starting paused: the first goes when its slot comes.
            client.rate = 1;
            client.reqsMadeThisSecond = 1;
            clients.push(client);
          },
        }),
  });
  if (mode === 'paced') {
    // Replace each connection's 1 s quota timer (set after setupClient) with a staggered one.
    for (const [i, client] of clients.entries()) {
      clearInterval(client.rateInterval);
      const tick = () => {
        if (client.destroyed) return;
        client.reqsMadeThisSecond = 0;
        slots++;
        if (client.paused) {
          client.paused = false;
          client._doRequest();
        } else {
          // Still waiting for the previous answer: this request goes when it arrives.
          late++;
        }
      };
      client.rateInterval = setTimeout(
        () => {
          tick();
          client.rateInterval = setInterval(tick, periodMs);
        },
        (i * periodMs) / connections,
      );
    }
  }
  const result = await instance;
  return { load, result, slots, late };
}

async function startRawApi(logDir: string, prefix: string): Promise<{ part: Part; url: string }> {
  const port = await freePort();
  const part = startPart(
    'raw-api.ts',
    { REDIS_URL },
    {
      label: 'raw-api',
      logDir,
      args: [JSON.stringify({ prefix, port })],
    },
  );
  await part.waitForLine(/listening/, PART_TIMEOUT_MS);
  return { part, url: `http://127.0.0.1:${port}` };
}

export interface IngestResult {
  readonly table: Table;
  readonly details: string[];
  readonly what: string;
  readonly p99: Record<string, number>;
}

export async function ingest(redis: Redis, options: IngestOptions): Promise<IngestResult> {
  const { rate, seconds, logDir } = options;
  const connections = options.connections ?? 100;
  const repeats = options.repeats ?? 1;
  const rows: Table['rows'] = [];
  const details: string[] = [];
  const p99: Record<string, number> = {};
  const record = (label: string, figures: LoadFigures, cpu: string, extra = '') => {
    const { result } = figures;
    const lat = result.latency;
    const codes = Object.entries(result.statusCodeStats)
      .map(([code, { count }]) => `${code}: ${fmt(count)}`)
      .join(', ');
    const total = Object.values(result.statusCodeStats).reduce((n, { count }) => n + count, 0);
    p99[label] = lat.p99;
    rows.push([
      label,
      figures.load,
      fmt(total / result.duration),
      lat.p50,
      lat.p90,
      `**${lat.p99}**`,
      lat.max,
      result.errors,
      result.non2xx,
    ]);
    details.push(
      `- ${label}: ${fmt(total)} answers in ${result.duration} s (${codes || 'none'}); errors ${result.errors} (timeouts ${result.timeouts}); mean ${lat.mean.toFixed(2)} ms, p97.5 ${lat.p97_5} ms, p99.9 ${lat.p99_9} ms${figures.slots > 0 ? `; ${fmt(figures.late)} of ${fmt(figures.slots)} paced requests went late (their connection still waited for an answer)` : ''}; CPU s: ${cpu}${extra}`,
    );
    say(
      `  ${label}: p50 ${lat.p50} ms, p90 ${lat.p90} ms, p99 ${lat.p99} ms, max ${lat.max} ms, non-2xx ${result.non2xx}, errors ${result.errors}`,
    );
  };

  const labels = {
    api: 'API + Redis only (no worker)',
    'api+worker': 'API while 1 worker drains (c=50, simulator 0 ms)',
    'api (overallRate)': "API + Redis only, autocannon's own overallRate pacing",
  } as const;
  // Only the alternating runs are numbered (run 0: a single run).
  const nth = (label: string, run: number) =>
    run > 0 && repeats > 1 ? `${label}, run ${run} of ${repeats}` : label;

  // 1. Baseline: bare Fastify + raw BullMQ add.
  const baseline = async (run: number) => {
    const prefix = runPrefix('ing-base');
    const raw = await startRawApi(logDir, prefix);
    try {
      say(`ingest: baseline (bare Fastify + raw BullMQ add) at ${rate}/s…`);
      await fire(raw.url, 'none', rate, 3, connections, 'paced', `${prefix}-w`);
      const cpu0 = raw.part.cpuSeconds();
      const figures = await fire(raw.url, 'none', rate, seconds, connections, 'paced', prefix);
      record(
        nth('baseline: bare Fastify + BullMQ add', run),
        figures,
        `server ${(raw.part.cpuSeconds() - cpu0).toFixed(1)}`,
      );
    } finally {
      await raw.part.stop(PART_TIMEOUT_MS);
      await deleteByPrefix(redis, prefix);
    }
  };

  // 2-4. The API, alone and with a worker draining.
  const system = async (variant: keyof typeof labels, run: number) => {
    const prefix = runPrefix('ing');
    const withWorker = variant === 'api+worker';
    const parts = await startSystem({
      prefix,
      logDir,
      api: true,
      workers: withWorker ? 1 : 0,
      workerConcurrency: 50,
    });
    try {
      const mode = variant === 'api (overallRate)' ? 'overallRate' : 'paced';
      say(`ingest: ${variant} at ${rate}/s…`);
      await fire(parts.apiUrl, parts.apiKey, rate, 3, connections, mode, `${prefix}-w`);
      const cpu0 = parts.cpu();
      const figures = await fire(parts.apiUrl, parts.apiKey, rate, seconds, connections, mode, prefix);
      const cpu1 = parts.cpu();
      const cpu = Object.entries(cpu1)
        .filter(([name]) => name !== 'simulator' || withWorker)
        .map(([name, s]) => `${name} ${(s - (cpu0[name] ?? 0)).toFixed(1)}`)
        .join(', ');
      const drained = withWorker
        ? `; orders in success at the end: ${fmt(await countInState(redis, parts.ledgerPrefix, 'success'))} of ${fmt(await redis.zcard(`${parts.ledgerPrefix}:client:${BENCH_CLIENT}:orders`))} (the worker keeps draining after the load stops)`
        : '';
      record(nth(labels[variant], run), figures, cpu, drained);
    } finally {
      await parts.stop();
      await deleteByPrefix(redis, prefix);
    }
  };

  // The baseline and the API alone alternate, so a noisy minute hits both; one lucky run proves nothing.
  for (let run = 1; run <= repeats; run++) {
    await baseline(run);
    await system('api', run);
  }
  await system('api+worker', 0);
  await system('api (overallRate)', 0);

  return {
    table: {
      head: ['run', 'load avg', 'answers/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx'],
      rows,
    },
    details,
    p99,
    what: `${fmt(rate)} requests/s for ${seconds} s per run (after a 3 s warm-up), ${connections} keep-alive connections each sending one request every ${((connections * 1000) / rate).toFixed(0)} ms (staggered), every request a new order; the baseline and the API-only run alternate ${repeats} time(s). Target: p99 < 20 ms in every API-only run.`,
  };
}
