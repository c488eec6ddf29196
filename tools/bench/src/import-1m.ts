/**
 * CSV batch import benchmark: `node tools/bench/src/import-1m.ts [rows]` (default 1,000,000), after
 * `bash scripts/bootstrap.sh true` has put Node 24 and the workspace in place. Needs Redis at
 * REDIS_URL (default redis://127.0.0.1:6379).
 *
 * 1. Writes a CSV of `rows` valid mobile recharges with unique order ids to a temp file.
 * 2. Stores it with storeUpload into a Redis ledger under a unique prefix (timed).
 * 3. Runs importBatch in a child process (validate, create orders, enqueue their jobs, commit row
 *    results) and reports its time and peak RSS (`process.resourceUsage().maxRSS`).
 * 4. Baseline on the same Redis in the same run (before the import, its keys removed before the
 *    import starts): raw BullMQ `addBulk` of `rows` jobs of the same shape (payload, job id,
 *    options) in chunks of 1,000, one call at a time, under another prefix — what queueing one
 *    job per row costs by itself.
 * Prints the figures, then deletes every key it wrote and the temp file; writes nothing to the repo.
 *
 * Environment: BENCH_CHUNK_ROWS, BENCH_PIPELINE_DEPTH (importBatch settings; defaults 1000, 4), BENCH_CHILD_FLAGS (Node flags
 * for the importing child, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`), BENCH_TRACE=1 (memory curve).
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { importBatch, storeUpload } from '@rechargeflow/batches';
import { createRedisLedgerStore } from '@rechargeflow/ledger';
import { JobProducer, jobOptions } from '@rechargeflow/queue';
import { deleteByPrefix, startProcess } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';

// One read of the environment (the bench is no Turborepo task; nothing of it is cached).
const env: Record<string, string | undefined> = { ...process.env };
const REDIS_URL = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLIENT = 'bench-shop';
const CHUNK = 1_000;

interface ChildArgs {
  readonly prefix: string;
  readonly batchId: string;
  readonly chunkRows: number;
  readonly pipelineDepth: number | undefined;
}

interface ChildReport {
  readonly seconds: number;
  readonly outcome: unknown;
  readonly startRssMb: number;
  readonly peakRssMb: number;
  readonly sampledPeakHeapMb: number;
  readonly cpuSeconds: number;
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const say = (line: string) => process.stderr.write(`${line}\n`);

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

/** The child: imports one stored batch and reports on stdout (one JSON line). */
async function child(args: ChildArgs): Promise<void> {
  const startRss = process.memoryUsage().rss;
  let peakHeap = 0;
  let ticks = 0;
  const sampler = setInterval(() => {
    const usage = process.memoryUsage();
    peakHeap = Math.max(peakHeap, usage.heapUsed);
    // BENCH_TRACE=1: the memory curve on stderr, once a second.
    if (env.BENCH_TRACE && ++ticks % 20 === 0) {
      say(
        `  rss ${mb(usage.rss)} MB, heap ${mb(usage.heapUsed)}/${mb(usage.heapTotal)} MB, external ${mb(usage.external)} MB`,
      );
    }
  }, 50);
  const ledgerRedis = await connect();
  const queueRedis = await connect();
  const ledger = createRedisLedgerStore({ redis: ledgerRedis, prefix: `${args.prefix}:ledger` });
  await ledger.init();
  const producer = new JobProducer(queueRedis, { prefix: `${args.prefix}:queue` });
  const log = { info() {}, warn() {}, error() {} };
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const outcome = await importBatch(
    { ledger, producer, log },
    { clientId: CLIENT, batchId: args.batchId },
    { chunkRows: args.chunkRows, pipelineDepth: args.pipelineDepth },
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  clearInterval(sampler);
  const report: ChildReport = {
    seconds,
    outcome,
    startRssMb: mb(startRss),
    // maxRSS is in kilobytes.
    peakRssMb: Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10,
    sampledPeakHeapMb: mb(peakHeap),
    cpuSeconds: Math.round(((cpu.user + cpu.system) / 1e6) * 10) / 10,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  await producer.close();
  await ledger.close();
  ledgerRedis.disconnect();
  queueRedis.disconnect();
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

async function runChild(args: ChildArgs): Promise<ChildReport> {
  // BENCH_CHILD_FLAGS: Node flags for the importing child, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const flags = (env.BENCH_CHILD_FLAGS ?? '').split(' ').filter(Boolean);
  // The report comes on stdout; the child's stderr goes to the terminal.
  const child = startProcess({
    label: 'importing child',
    args: [...flags, import.meta.filename, '--child', JSON.stringify(args)],
    stdout: 'capture',
    stderr: 'inherit',
  });
  const code = await child.closed;
  if (code !== 0) throw new Error(`the importing child exited with ${code}`);
  // The report is the last line; anything before it (e.g. --trace-gc) is passed on to stderr.
  const lines = [...child.lines];
  const last = lines.pop() ?? '{}';
  if (lines.length > 0) process.stderr.write(`${lines.join('\n')}\n`);
  return JSON.parse(last) as ChildReport;
}

/** Raw BullMQ addBulk of `rows` jobs shaped like recharge jobs, 1,000 per call. */
async function baseline(redis: Redis, prefix: string, rows: number): Promise<number> {
  const producer = new JobProducer(redis, { prefix });
  const queue = producer.queue('recharges', 'a1topup');
  const started = performance.now();
  for (let start = 0; start < rows; start += CHUNK) {
    const jobs = [];
    for (let i = start; i < Math.min(rows, start + CHUNK); i++) {
      jobs.push({
        name: 'recharge',
        data: { clientId: CLIENT, orderId: `bench-${i}` },
        opts: jobOptions('recharge', `recharge-${i.toString(16).padStart(32, '0')}-a1topup`),
      });
    }
    await queue.addBulk(jobs);
  }
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  return seconds;
}

async function redisMemoryMb(redis: Redis): Promise<number> {
  return mb(Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0));
}

async function main(): Promise<void> {
  const rows = Number(process.argv[2] ?? 1_000_000);
  if (!Number.isSafeInteger(rows) || rows < 1)
    throw new Error('usage: node tools/bench/src/import-1m.ts [rows]');
  const chunkRows = Number(env.BENCH_CHUNK_ROWS ?? 1_000);
  const pipelineDepth = env.BENCH_PIPELINE_DEPTH ? Number(env.BENCH_PIPELINE_DEPTH) : undefined;
  const run = `rf-bench:${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(join(tmpdir(), 'rf-bench-'));
  const file = join(dir, 'batch.csv');
  const redis = await connect();
  try {
    const info = await redis.info('server');
    say(
      `Node ${process.version}, Redis ${/redis_version:(\S+)/.exec(info)?.[1]}, ${cpus().length} CPUs, ${mb(totalmem())} MB; child flags: ${env.BENCH_CHILD_FLAGS ?? '(none)'}`,
    );
    let started = performance.now();
    await writeCsv(file, rows);
    const bytes = statSync(file).size;
    say(
      `generated ${rows.toLocaleString('en-US')} rows (${mb(bytes)} MB) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );

    // Baseline first, on a Redis holding nothing of this run, then removed: the import then
    // starts from the same state, so neither pays for the other's keys.
    say('baseline: raw BullMQ addBulk…');
    const baseMemoryBefore = await redisMemoryMb(redis);
    let redisCpuBefore = await redisCpu(redis);
    const cpuBefore = process.cpuUsage();
    const baseSeconds = await baseline(redis, `${run}:baseline`, rows);
    const baseCpu = process.cpuUsage(cpuBefore);
    const baseRedisCpu = (await redisCpu(redis)) - redisCpuBefore;
    const baseMemory = (await redisMemoryMb(redis)) - baseMemoryBefore;
    await deleteByPrefix(redis, `${run}:baseline:`);

    const ledger = createRedisLedgerStore({ redis, prefix: `${run}:import:ledger` });
    await ledger.init();
    started = performance.now();
    const stored = await storeUpload({
      ledger,
      clientId: CLIENT,
      source: createReadStream(file, { highWaterMark: 1 << 20 }),
      filename: 'bench.csv',
      limits: { maxBytes: bytes, maxRows: rows, maxRowBytes: 1_024 },
    });
    const storeSeconds = (performance.now() - started) / 1000;
    say(
      `stored in ${storeSeconds.toFixed(2)} s (batch ${stored.batch.batchId}); importing in a child process…`,
    );

    const memoryBefore = await redisMemoryMb(redis);
    redisCpuBefore = await redisCpu(redis);
    const report = await runChild({
      prefix: `${run}:import`,
      batchId: stored.batch.batchId,
      chunkRows,
      pipelineDepth,
    });
    const importRedisCpu = (await redisCpu(redis)) - redisCpuBefore;
    const memoryAfter = await redisMemoryMb(redis);
    const batch = await ledger.getBatch(CLIENT, stored.batch.batchId);
    const queue = new JobProducer(redis, { prefix: `${run}:import:queue` });
    const { waiting } = await queue.queue('recharges', 'a1topup').getJobCounts('waiting');
    await queue.close();
    say(`imported: ${JSON.stringify(report.outcome)}; ${waiting} jobs waiting`);
    if (batch?.accepted !== rows || waiting !== rows)
      throw new Error('the import did not accept and queue every row');

    const rate = rows / report.seconds;
    const baseRate = rows / baseSeconds;
    const table: [string, string][] = [
      ['rows', rows.toLocaleString('en-US')],
      ['file', `${mb(bytes)} MB`],
      ['chunkRows, pipelineDepth', `${chunkRows}, ${pipelineDepth ?? 'default (4)'}`],
      ['store upload (API side)', `${storeSeconds.toFixed(2)} s`],
      ['import: seconds', report.seconds.toFixed(1)],
      ['import: rows/s', Math.round(rate).toLocaleString('en-US')],
      [
        'import: peak RSS',
        `${report.peakRssMb} MB (at start ${report.startRssMb} MB; sampled peak heap ${report.sampledPeakHeapMb} MB)`,
      ],
      ['import: CPU of the importing process', `${report.cpuSeconds} s`],
      ['import: CPU of Redis (whole server)', `${importRedisCpu.toFixed(1)} s`],
      ['import: Redis memory added', `${Math.round(memoryAfter - memoryBefore)} MB`],
      ['baseline addBulk: seconds', baseSeconds.toFixed(1)],
      ['baseline addBulk: jobs/s', Math.round(baseRate).toLocaleString('en-US')],
      ['baseline: CPU of this process', `${((baseCpu.user + baseCpu.system) / 1e6).toFixed(1)} s`],
      ['baseline: CPU of Redis (whole server)', `${baseRedisCpu.toFixed(1)} s`],
      ['baseline: Redis memory added', `${Math.round(baseMemory)} MB`],
      ['import rate / baseline rate', (rate / baseRate).toFixed(2)],
      ['target', `< 60 s and < 256 MB: ${report.seconds < 60 && report.peakRssMb < 256 ? 'met' : 'missed'}`],
    ];
    for (const [name, value] of table) process.stdout.write(`${name.padEnd(38)} ${value}\n`);
    await ledger.close();
  } finally {
    const deleted = await deleteByPrefix(redis, `${run}:`);
    say(`cleaned up ${deleted.toLocaleString('en-US')} keys under ${run}:`);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(JSON.parse(process.argv[3] ?? '{}') as ChildArgs);
else await main();
