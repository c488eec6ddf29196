/**
 * The baseline's consumer: a raw BullMQ Worker (the same BullMQ the system uses: this package pins
 * the queue package's version; no Rechargeflow code) in its own process, as the system's worker
 * is. Started by the benchmarks with one JSON argument: `{ prefix, queue, concurrency, sleepMs }`.
 * Each job sleeps `sleepMs` (0: a no-op) and completes. Reports on stdout: `ready` once connected,
 * then `count <completed> <ms of the last completion>` whenever that changed (every 50 ms at
 * most), so the parent can add up the counts of several such processes and take the time of the
 * last completion.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

interface Args {
  readonly prefix: string;
  readonly queue: string;
  readonly concurrency: number;
  readonly sleepMs: number;
}

// One read of the environment (the bench is no Turborepo task; nothing of it is cached).
const env: Record<string, string | undefined> = { ...process.env };
const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const connection = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  maxRetriesPerRequest: null,
});
const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
const worker = new Worker(args.queue, args.sleepMs > 0 ? () => sleep(args.sleepMs) : async () => undefined, {
  connection,
  prefix: args.prefix,
  concurrency: args.concurrency,
});
let completed = 0;
let lastAt = 0;
let reported = 0;
worker.on('completed', () => {
  completed++;
  lastAt = Date.now();
});
await worker.waitUntilReady();
process.stdout.write('ready\n');
const timer = setInterval(() => {
  if (completed === reported) return;
  reported = completed;
  process.stdout.write(`count ${completed} ${lastAt}\n`);
}, 50);
process.once('SIGTERM', () => {
  clearInterval(timer);
  void worker.close().then(() => {
    connection.disconnect();
    process.exit(0);
  });
});
