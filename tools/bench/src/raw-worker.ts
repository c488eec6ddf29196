/**
 * A raw BullMQ Worker (the same BullMQ the system uses: this package pins the queue package's
 * version; no Rechargeflow code) in its own process, as the system's worker is. Started by the
 * benchmarks with one JSON argument: `{ prefix, queue, concurrency, sleepMs, provider? }`.
 *
 * - Without `provider` (the no-op baselines): each job sleeps `sleepMs` (0: a no-op) and completes.
 * - With `provider` `{ url, username }` (the hand-written pipeline of `end-to-end`; the password in
 *   BENCH_PROVIDER_PASSWORD): each job is one recharge, as a user would write it without
 *   Rechargeflow: one undici form POST to the A1Topup `/recharge/api` (undici's default keep-alive
 *   agent), the JSON answer read, and the job completes when it says `Success` (fails otherwise).
 *
 * Reports on stdout: `ready` once connected, then `count <completed> <ms of the last completion>
 * <failed>` whenever that changed (every 50 ms at most), so the parent can add up the counts of
 * several such processes and take the time of the last completion.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { request } from 'undici';

interface Args {
  readonly prefix: string;
  readonly queue: string;
  readonly concurrency: number;
  readonly sleepMs: number;
  readonly provider?: { readonly url: string; readonly username: string };
}

/** The job of the hand-written pipeline: the request body as the hand-written API got it. */
interface RechargeData {
  readonly orderId: string;
  readonly operator: string;
  readonly circle?: string;
  readonly number: string;
  readonly amount: number;
}

// One read of the environment (the bench is no Turborepo task; nothing of it is cached).
const env: Record<string, string | undefined> = { ...process.env };
const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const connection = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  maxRetriesPerRequest: null,
});
const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

function recharger(provider: NonNullable<Args['provider']>) {
  const url = `${provider.url}/recharge/api`;
  const password = env.BENCH_PROVIDER_PASSWORD ?? '';
  return async (job: { data: RechargeData }) => {
    const order = job.data;
    const form = new URLSearchParams({
      username: provider.username,
      pwd: password,
      operatorcode: order.operator,
      ...(order.circle ? { circlecode: order.circle } : {}),
      number: order.number,
      amount: String(order.amount),
      orderid: order.orderId,
      format: 'json',
    });
    const { statusCode, body } = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    const answer = (await body.json()) as { status?: string };
    if (statusCode !== 200 || answer.status !== 'Success')
      throw new Error(`recharge ${order.orderId}: HTTP ${statusCode}, status ${answer.status}`);
  };
}

const processor = args.provider
  ? recharger(args.provider)
  : args.sleepMs > 0
    ? () => sleep(args.sleepMs)
    : async () => undefined;
const worker = new Worker(args.queue, processor, {
  connection,
  prefix: args.prefix,
  concurrency: args.concurrency,
});
let completed = 0;
let failed = 0;
let lastAt = 0;
let reported = '';
worker.on('completed', () => {
  completed++;
  lastAt = Date.now();
});
worker.on('failed', () => {
  failed++;
});
await worker.waitUntilReady();
process.stdout.write('ready\n');
const timer = setInterval(() => {
  const line = `count ${completed} ${lastAt} ${failed}`;
  if (line === reported) return;
  reported = line;
  process.stdout.write(`${line}\n`);
}, 50);
process.once('SIGTERM', () => {
  clearInterval(timer);
  void worker.close().then(() => {
    connection.disconnect();
    process.exit(0);
  });
});
