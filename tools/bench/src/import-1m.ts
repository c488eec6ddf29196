/**
 * CSV batch import benchmark: `node tools/bench/src/import-1m.ts [rows]` (default 1,000,000), after
 * `bash scripts/bootstrap.sh true` has put Node 24 and the workspace in place. Needs Redis at
 * REDIS_URL (default redis://127.0.0.1:6379).
 *
 * 1. Writes a CSV of `rows` valid mobile recharges with unique order ids to a temp file.
 * 2. Baseline, first, on a Redis holding nothing of the run: raw BullMQ `addBulk` of `rows` jobs of
 *    the same shape as the import's (payload, job id, options) in chunks of 1,000, one call at a
 *    time — what queueing one job per row costs by itself. Its keys are removed before the import.
 * 3. Starts the importer exactly as `npm run start:importer` does (WORKER_QUEUES=batches, `node` +
 *    its heap flags + apps/worker/src/main.ts: WORKER_PROCESSES.importer of @rechargeflow/runtime)
 *    under the run's own prefixes, stores the file with storeUpload (the API's part) and queues its
 *    `batch.import` job: the importer imports it with its default settings (validate, create
 *    orders, add the jobs of the first chunks while the queue holds fewer than
 *    BATCH_RELEASE_BACKLOG, commit row results; the other orders wait in the ledger for the batch's
 *    release). Timed from the job being queued to the batch reading `imported`; the importer's CPU
 *    and its peak RSS (VmHWM, the whole process from its start) come from /proc.
 * 4. Then the release, for context: the queue is emptied as it fills (a consumer infinitely fast)
 *    until the batch's release job has handed every order over; timed, with its CPU.
 * Both queues of recharges are paused, so nothing consumes the jobs, and both adds take the same
 * path in BullMQ. Prints the figures, then stops the importer and deletes every key
 * it wrote and the temp file; writes nothing to the repo.
 *
 * Environment: REDIS_URL; BENCH_CHUNK_ROWS (the importer's BATCH_CHUNK_ROWS, default its own);
 * BENCH_WORKER_FLAGS: Node flags added after the importer's own (e.g. `--cpu-prof
 * --cpu-prof-dir=/tmp/prof`; none by default); BENCH_TRACE=1 (the importer's RSS once a second).
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { storeUpload } from '@rechargeflow/batches';
import { createRedisLedgerStore } from '@rechargeflow/ledger';
import { batchJobId, JobProducer, jobOptions } from '@rechargeflow/queue';
import { WORKER_PROCESSES, workerQueuesOf } from '@rechargeflow/runtime';
import { deleteByPrefix, startApp } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';

// One read of the environment (the bench is no Turborepo task; nothing of it is cached).
const env: Record<string, string | undefined> = { ...process.env };
const REDIS_URL = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLIENT = 'bench-shop';
const CHUNK = 1_000;
/** The importer's own Node flags, as `npm run start:importer` passes them. */
const IMPORTER_FLAGS = WORKER_PROCESSES.importer.nodeFlags;
const PROVIDER = 'a1topup';

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const say = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function connect(): Promise<Redis> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await redis.connect();
  return redis;
}

/** Seconds of CPU the Redis server has used so far (user + system, all its threads). */
async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return field('used_cpu_user') + field('used_cpu_sys');
}

async function redisMemoryMb(redis: Redis): Promise<number> {
  return mb(Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0));
}

/** A process's memory from /proc/<pid>/status, in MB: `VmRSS` now, `VmHWM` its peak so far. */
function procMemoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round((Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024) * 10) / 10;
}

async function writeCsv(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  let buffer = 'orderId,operator,circle,number,amount,value1,value2\n';
  for (let i = 0; i < rows; i++) {
    buffer += `bench-${i},A,5,${9_000_000_000 + i},${10 + (i % 490)},,\n`;
    if (buffer.length > 1 << 20) {
      if (!out.write(buffer)) await once(out, 'drain');
      buffer = '';
    }
  }
  out.end(buffer);
  await once(out, 'finish');
}

/** Raw BullMQ addBulk of `rows` jobs shaped like recharge jobs, 1,000 per call, into a paused queue. */
async function baseline(redis: Redis, prefix: string, rows: number): Promise<number> {
  const producer = new JobProducer(redis, { prefix });
  const queue = producer.queue('recharges', PROVIDER);
  await queue.pause();
  const started = performance.now();
  for (let start = 0; start < rows; start += CHUNK) {
    const jobs = [];
    for (let i = start; i < Math.min(rows, start + CHUNK); i++) {
      jobs.push({
        name: 'recharge',
        data: { clientId: CLIENT, orderId: `bench-${i}` },
        opts: jobOptions('recharge', `recharge-${i.toString(16).padStart(32, '0')}-${PROVIDER}`),
      });
    }
    await queue.addBulk(jobs);
  }
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  return seconds;
}

interface ImportRun {
  readonly seconds: number;
  readonly idleRssMb: number;
  readonly peakRssMb: number;
  readonly cpuSeconds: number;
  readonly redisCpuSeconds: number;
  readonly redisMemoryMb: number;
  readonly accepted: number;
  readonly waiting: number;
  /** Rows whose jobs the import added itself (the batch's rowsReleased when it read `imported`). */
  readonly released: number;
  /** From `imported` until every order's job was handed over, the queue emptied as it filled. */
  readonly releaseSeconds: number;
  readonly releaseCpuSeconds: number;
  readonly releaseRedisCpuSeconds: number;
}

/**
 * The importer, started as `npm run start:importer` starts it, imports the file stored under `run`:
 * answers the timing, its CPU and memory, and what the ledger and the queue hold afterwards.
 */
async function importInWorker(redis: Redis, run: string, file: string, bytes: number, rows: number) {
  const queuePrefix = `${run}-queue`;
  const ledgerPrefix = `${run}:ledger`;
  const producer = new JobProducer(redis, { prefix: queuePrefix });
  const recharges = producer.queue('recharges', PROVIDER);
  // Paused before the worker starts: it imports, and consumes none of the jobs it queues.
  await recharges.pause();
  const ledger = createRedisLedgerStore({ redis, prefix: ledgerPrefix });
  await ledger.init();
  const extraFlags = (env.BENCH_WORKER_FLAGS ?? '').split(' ').filter(Boolean);
  const worker = startApp(
    'worker',
    {
      REDIS_URL,
      QUEUE_PREFIX: queuePrefix,
      LEDGER_PREFIX: ledgerPrefix,
      PROVIDERS: PROVIDER,
      A1TOPUP_USERNAME: 'bench',
      A1TOPUP_PASSWORD: 'bench',
      // Never called: its queue is paused.
      A1TOPUP_BASE_URL: 'http://127.0.0.1:9',
      // Info: the line that says it is up (nothing is logged per row).
      LOG_LEVEL: 'info',
      BATCH_CHUNK_ROWS: env.BENCH_CHUNK_ROWS,
      WORKER_QUEUES: workerQueuesOf('importer'),
    },
    'importer',
    // Only PATH of this environment: an outer MONGO_URL or LEDGER_REDIS_URL must not reach it.
    { nodeFlags: [...IMPORTER_FLAGS, ...extraFlags], baseEnv: { PATH: env.PATH }, keepLines: 200 },
  );
  try {
    await worker.waitForLine(/"msg":"recharge worker running"/, 60_000);
    const pid = worker.child.pid as number;
    const stored = await storeUpload({
      ledger,
      clientId: CLIENT,
      source: createReadStream(file, { highWaterMark: 1 << 20 }),
      filename: 'bench.csv',
      limits: { maxBytes: bytes, maxRows: rows, maxRowBytes: 1_024 },
    });
    const { batchId } = stored.batch;
    say(`stored (batch ${batchId}); the importer imports it…`);
    const idleRssMb = procMemoryMb(pid, 'VmRSS');
    const memoryBefore = await redisMemoryMb(redis);
    const redisCpuBefore = await redisCpu(redis);
    const cpuBefore = worker.cpuSeconds();
    const started = performance.now();
    await producer.enqueue('batch.import', { clientId: CLIENT, batchId }, batchJobId(batchId));
    let lastTrace = started;
    for (;;) {
      const batch = await ledger.getBatch(CLIENT, batchId);
      if (batch?.state === 'imported' || batch?.state === 'done') break;
      if (!worker.running()) throw new Error(`the importer exited: ${worker.lines.slice(-5).join('\n')}`);
      if (env.BENCH_TRACE && performance.now() - lastTrace >= 1_000) {
        lastTrace = performance.now();
        say(`  importer rss ${procMemoryMb(pid, 'VmRSS')} MB (peak ${procMemoryMb(pid, 'VmHWM')} MB)`);
      }
      await sleep(20);
    }
    const seconds = (performance.now() - started) / 1000;
    const cpuSeconds = worker.cpuSeconds() - cpuBefore;
    const redisCpuSeconds = (await redisCpu(redis)) - redisCpuBefore;
    const redisMemory = (await redisMemoryMb(redis)) - memoryBefore;
    const batch = await ledger.getBatch(CLIENT, batchId);
    const waiting = (await recharges.getJobCounts('waiting')).waiting ?? 0;
    // Then the release: the queue is emptied as it fills (a consumer infinitely fast, removing
    // what it takes) until the batch's release has handed every order over: the time the rest of
    // the jobs take to reach the queue when nothing holds them back (context, not the target).
    const releaseStarted = performance.now();
    const releaseCpuBefore = worker.cpuSeconds();
    const releaseRedisBefore = await redisCpu(redis);
    for (;;) {
      const now = await ledger.getBatch(CLIENT, batchId);
      await recharges.drain();
      if (now !== null && now.rowsReleased >= now.rowsCommitted) break;
      if (!worker.running()) throw new Error(`the importer exited: ${worker.lines.slice(-5).join('\n')}`);
      await sleep(50);
    }
    const releaseSeconds = (performance.now() - releaseStarted) / 1000;
    const after = await ledger.getBatch(CLIENT, batchId);
    if (after?.rowsReleased !== rows) throw new Error(`the release ended at row ${after?.rowsReleased}`);
    const result: ImportRun = {
      seconds,
      idleRssMb,
      peakRssMb: procMemoryMb(pid, 'VmHWM'),
      cpuSeconds,
      redisCpuSeconds,
      redisMemoryMb: redisMemory,
      accepted: batch?.accepted ?? 0,
      waiting,
      released: batch?.rowsReleased ?? 0,
      releaseSeconds,
      releaseCpuSeconds: worker.cpuSeconds() - releaseCpuBefore,
      releaseRedisCpuSeconds: (await redisCpu(redis)) - releaseRedisBefore,
    };
    return result;
  } finally {
    const code = await worker.stop();
    if (code !== 0)
      say(`the importer exited with ${code}; its last lines:\n${worker.lines.slice(-5).join('\n')}`);
    await producer.close();
    await ledger.close();
  }
}

async function main(): Promise<void> {
  const rows = Number(process.argv[2] ?? 1_000_000);
  if (!Number.isSafeInteger(rows) || rows < 1)
    throw new Error('usage: node tools/bench/src/import-1m.ts [rows]');
  // No `:` in it: it is also the worker's QUEUE_PREFIX (letters, digits, _ . -).
  const run = `rf-bench-${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(join(tmpdir(), 'rf-bench-'));
  const file = join(dir, 'batch.csv');
  const redis = await connect();
  try {
    const info = await redis.info('server');
    say(
      `Node ${process.version}, Redis ${/redis_version:(\S+)/.exec(info)?.[1]}, ${cpus().length} CPUs, ${mb(totalmem())} MB; importer flags: ${[...IMPORTER_FLAGS, env.BENCH_WORKER_FLAGS ?? ''].join(' ').trim()}`,
    );
    const started = performance.now();
    await writeCsv(file, rows);
    const bytes = statSync(file).size;
    say(
      `generated ${rows.toLocaleString('en-US')} rows (${mb(bytes)} MB) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );

    // Baseline first, on a Redis holding nothing of this run, then removed: the import then
    // starts from the same state, so neither pays for the other's keys.
    say('baseline: raw BullMQ addBulk…');
    const baseMemoryBefore = await redisMemoryMb(redis);
    const redisCpuBefore = await redisCpu(redis);
    const cpuBefore = process.cpuUsage();
    const baseSeconds = await baseline(redis, `${run}-baseline`, rows);
    const baseCpu = process.cpuUsage(cpuBefore);
    const baseRedisCpu = (await redisCpu(redis)) - redisCpuBefore;
    const baseMemory = (await redisMemoryMb(redis)) - baseMemoryBefore;
    await deleteByPrefix(redis, `${run}-baseline:`);

    const imported = await importInWorker(redis, run, file, bytes, rows);
    say(
      `imported: ${imported.accepted} rows accepted; ${imported.waiting} jobs waiting, added by the import for its first ${imported.released} rows`,
    );
    if (imported.accepted !== rows || imported.waiting !== imported.released)
      throw new Error('the import did not accept every row and queue the jobs of the rows it released');

    const rate = rows / imported.seconds;
    const baseRate = rows / baseSeconds;
    const table: [string, string][] = [
      ['rows', rows.toLocaleString('en-US')],
      ['file', `${mb(bytes)} MB`],
      ['importer Node flags', [...IMPORTER_FLAGS, env.BENCH_WORKER_FLAGS ?? ''].join(' ').trim()],
      ['import: seconds', imported.seconds.toFixed(1)],
      ['import: rows/s', Math.round(rate).toLocaleString('en-US')],
      [
        'import: importer peak RSS',
        `${imported.peakRssMb} MB (idle before the import ${imported.idleRssMb} MB)`,
      ],
      ['import: CPU of the importer', `${imported.cpuSeconds.toFixed(1)} s`],
      ['import: CPU of Redis (whole server)', `${imported.redisCpuSeconds.toFixed(1)} s`],
      ['import: Redis memory added', `${Math.round(imported.redisMemoryMb)} MB`],
      [
        'import: jobs added by the import',
        `${imported.released.toLocaleString('en-US')} (the rest wait in the ledger for the release)`,
      ],
      [
        'then the release, queue emptied as it fills',
        `${imported.releaseSeconds.toFixed(1)} s; CPU importer ${imported.releaseCpuSeconds.toFixed(1)} s, Redis ${imported.releaseRedisCpuSeconds.toFixed(1)} s`,
      ],
      ['baseline addBulk: seconds', baseSeconds.toFixed(1)],
      ['baseline addBulk: jobs/s', Math.round(baseRate).toLocaleString('en-US')],
      ['baseline: CPU of this process', `${((baseCpu.user + baseCpu.system) / 1e6).toFixed(1)} s`],
      ['baseline: CPU of Redis (whole server)', `${baseRedisCpu.toFixed(1)} s`],
      ['baseline: Redis memory added', `${Math.round(baseMemory)} MB`],
      ['import rate / baseline rate', (rate / baseRate).toFixed(2)],
      [
        'target',
        `>= 0.9 of addBulk and < 256 MB: ${rate / baseRate >= 0.9 && imported.peakRssMb < 256 ? 'met' : 'missed'}`,
      ],
    ];
    for (const [name, value] of table) process.stdout.write(`${name.padEnd(44)} ${value}\n`);
  } finally {
    let deleted = 0;
    for (const prefix of [`${run}-baseline:`, `${run}-queue:`, `${run}:`])
      deleted += await deleteByPrefix(redis, prefix);
    say(`cleaned up ${deleted.toLocaleString('en-US')} keys under ${run}`);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
