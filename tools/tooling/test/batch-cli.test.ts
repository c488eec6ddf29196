import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  deleteByPrefix,
  freePort,
  REPO_ROOT,
  type RunningPart,
  runCommand,
  startProcess,
  waitFor,
} from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `npm run batch` as a person runs it (tools/tooling/src/batch.ts behind scripts/bootstrap.sh),
// against the whole system `npm start` runs: found through npm start's run file or RECHARGEFLOW_URL.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-batch-cli-${randomUUID().slice(0, 8)}`;
const CLI = resolve(REPO_ROOT, 'tools/tooling/src/batch.ts');
const dir = mkdtempSync(join(tmpdir(), 'rf-batch-cli-'));
const runFile = join(dir, 'state', 'run.json');
const noRunFile = join(dir, 'no-such-run.json');

let start: RunningPart;
let api: { url: string; key: string; pid: number };
let simulator: string;

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  part: RunningPart;
}

/**
 * Starts the CLI with only the given RECHARGEFLOW_* settings (none inherited); its stdout and
 * stderr go to two files, or (`capture`) both to `lines` as they come.
 */
function startCli(args: string[], env: Record<string, string>, capture = false): RunningPart {
  const id = randomUUID().slice(0, 8);
  return startProcess({
    label: `batch ${args[0]}`,
    args: [CLI, ...args],
    cwd: dir,
    env: {
      RECHARGEFLOW_URL: undefined,
      RECHARGEFLOW_API_KEY: undefined,
      RECHARGEFLOW_RUN_FILE: noRunFile,
      INIT_CWD: undefined,
      ...env,
    },
    ...(capture
      ? {}
      : { stdout: { file: join(dir, `${id}.out`) }, stderr: { file: join(dir, `${id}.err`) } }),
  });
}

async function cli(args: string[], env: Record<string, string>): Promise<CliRun> {
  const part = startCli(args, env);
  const code = await part.closed;
  const read = (file: string) => readFileSync(file, 'utf8');
  const base = (part.logFile as string).replace(/\.out$/, '');
  return { code, stdout: read(`${base}.out`), stderr: read(`${base}.err`), part };
}

/** One sentence on one line, no stack trace, exit code 1. */
function expectOneSentence(run: CliRun, pattern: RegExp): void {
  expect(run.code, run.stderr).toBe(1);
  const lines = run.stderr.trim().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^batch: /);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at |Error:|node:internal/);
}

function writeCsv(name: string, rows: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `orderId,operator,circle,number,amount\n${rows.join('\n')}\n`);
  return path;
}

beforeAll(async () => {
  const [port, simPort] = [await freePort(), await freePort()];
  simulator = `http://127.0.0.1:${simPort}`;
  start = startProcess({
    label: 'npm start',
    args: [resolve(REPO_ROOT, 'tools/tooling/src/start.ts')],
    env: {
      REDIS_URL,
      PORT: String(port),
      SIMULATOR_PORT: String(simPort),
      QUEUE_PREFIX: prefix,
      LEDGER_PREFIX: `${prefix}:ledger`,
      API_KEYS: '',
      A1TOPUP_BASE_URL: '',
      LOG_FORMAT: 'json',
      RECHARGEFLOW_RUN_FILE: runFile,
    },
    keepLines: 300,
  });
  // The run file, or npm start's last lines as soon as it gives up.
  const exited = start.exited.then(() => {
    throw new Error(`npm start exited before writing its run file:\n${start.lines.slice(-20).join('\n')}`);
  });
  const written = await Promise.race([
    exited,
    waitFor(
      'npm start to write its run file',
      async () => JSON.parse(readFileSync(runFile, 'utf8')) as { url: string; apiKey: string; pid: number },
      60_000,
      100,
    ),
  ]);
  exited.catch(() => undefined);
  api = { url: written.url, key: written.apiKey, pid: written.pid };
}, 70_000);

afterAll(async () => {
  if (start?.running()) await start.stop(30_000);
  const redis = new Redis(REDIS_URL);
  await deleteByPrefix(redis, `${prefix}:`);
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run batch', () => {
  it('npm start writes its run file once up: its URL, its pid, the demo key, for the owner only', () => {
    expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(api.pid).toBe(start.child.pid);
    expect(api.key.length).toBeGreaterThanOrEqual(16);
    expect(statSync(runFile).mode & 0o777).toBe(0o600);
    // The banner's key is the run file's.
    expect(start.lines.join('\n')).toContain(`API key:   ${api.key}`);
  });

  it('through the run file alone: uploads a small CSV, follows it to its end, saves results.csv and sums it up', async () => {
    const id = randomUUID().slice(0, 6);
    const file = writeCsv('small.csv', [
      `ok-${id}-1,A,5,9800000001,10`,
      `ok-${id}-2,A,5,9800000002,10`,
      `ok-${id}-3,A,5,9800000003,10`,
      `bad-${id}-4,A,5,12345,10`,
      `refused-${id}-5,A,5,9800000005,13`,
    ]);
    const run = await cli(['upload', file, '--interval', '0.2'], { RECHARGEFLOW_RUN_FILE: runFile });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`to ${api.url} (npm start, pid ${api.pid})`);
    // Not a terminal: plain progress lines, no bar.
    expect(run.stderr).toMatch(/^done: 4\/4 orders settled/m);
    expect(run.stderr).not.toContain('\u001b[');
    const batchId = /^batch (b_\S+) \(small\.csv\): done$/m.exec(run.stdout)?.[1];
    expect(batchId, run.stdout).toBeTruthy();
    expect(run.stdout).toContain('rows:     5 read, 4 accepted, 1 rejected');
    expect(run.stdout).toMatch(/orders: +success 3, failed 1\n/);
    expect(run.stdout).toMatch(/by row: +success 3, (rejected 1, failed 1|failed 1, rejected 1)\n/);
    expect(run.stdout).toMatch(/ 1 {2}rejected: number/);
    const results = join(dir, 'small.results.csv');
    expect(run.stdout).toContain(`results:  ${results} (5 rows)`);
    const lines = readFileSync(results, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[1]).toContain(`ok-${id}-1`);

    // RECHARGEFLOW_URL (with RECHARGEFLOW_API_KEY) finds the same API without the run file.
    const byUrl = { RECHARGEFLOW_URL: `${api.url}/`, RECHARGEFLOW_API_KEY: api.key };
    const status = await cli(['status', batchId as string], byUrl);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`batch ${batchId} (small.csv): done`);
    const listed = await cli(['list', '-n', '5'], byUrl);
    expect(listed.stdout).toMatch(new RegExp(`^${batchId} +done +5 rows`, 'm'));
    const csv = await cli(['results', batchId as string], byUrl);
    expect(csv.stdout.trim().split('\n')).toEqual(lines);
    // Without RECHARGEFLOW_URL and without the run file: the default URL, named in the sentence.
    const elsewhere = await cli(['status', batchId as string], { RECHARGEFLOW_API_KEY: api.key });
    expectOneSentence(elsewhere, /http:\/\/127\.0\.0\.1:8080/);
  }, 40_000);

  it('every error is one sentence: a missing file, refused key, an API refusal, nothing listening, an HTML server', async () => {
    const byRunFile = { RECHARGEFLOW_RUN_FILE: runFile };
    expectOneSentence(
      await cli(['upload', join(dir, 'nope.csv')], byRunFile),
      /^batch: no file .*nope\.csv$/,
    );
    expectOneSentence(await cli(['upload', dir], byRunFile), /is a directory, not a CSV file/);
    expectOneSentence(
      await cli(['list'], { RECHARGEFLOW_URL: api.url, RECHARGEFLOW_API_KEY: 'not-a-key-of-this-api' }),
      /the API at http:\/\/127\.0\.0\.1:\d+ refused the API key \(401\): set RECHARGEFLOW_API_KEY/,
    );
    expectOneSentence(
      await cli(['list'], { RECHARGEFLOW_URL: api.url }),
      /no API key for .*RECHARGEFLOW_API_KEY/,
    );
    expectOneSentence(
      await cli(['status', 'b_nope'], byRunFile),
      /^batch: the API answered 404: no batch b_nope for this client$/,
    );
    const closed = await freePort();
    expectOneSentence(
      await cli(['list'], { RECHARGEFLOW_URL: `http://127.0.0.1:${closed}`, RECHARGEFLOW_API_KEY: api.key }),
      new RegExp(`nothing answers at http://127\\.0\\.0\\.1:${closed} \\(connection refused\\)`),
    );
    expectOneSentence(
      await cli(['list'], { RECHARGEFLOW_URL: 'localhost:8080' }),
      /RECHARGEFLOW_URL is not an http/,
    );

    // A web server that is not the API (what `npm run batch` met on port 8080 before).
    const html: Server = createServer((request, response) => {
      request.resume();
      response
        .writeHead(501, { 'content-type': 'text/html' })
        .end('<html><body>Not Implemented</body></html>');
    });
    await new Promise<void>((done) => html.listen(0, '127.0.0.1', done));
    const htmlUrl = `http://127.0.0.1:${(html.address() as { port: number }).port}`;
    try {
      const file = writeCsv('html.csv', ['h-1,A,5,9800000001,10']);
      const run = await cli(['upload', file], { RECHARGEFLOW_URL: htmlUrl, RECHARGEFLOW_API_KEY: 'k' });
      expect(run.code).toBe(1);
      const last = run.stderr.trim().split('\n').at(-1);
      expect(last).toBe(
        `batch: the server at ${htmlUrl} is not the Rechargeflow API (it answered text/html, HTTP 501)`,
      );
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expectOneSentence(
        await cli(['status', 'b_1'], { RECHARGEFLOW_URL: htmlUrl, RECHARGEFLOW_API_KEY: 'k' }),
        /is not the Rechargeflow API \(it answered text\/html/,
      );
    } finally {
      await new Promise((done) => html.close(done));
    }

    // Wrong command lines: commander's one line and exit code 2; --help for each command.
    const usage = await cli(['upload'], byRunFile);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^batch: missing required argument 'file'/);
    const help = await cli(['upload', '--help'], byRunFile);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: npm run batch -- upload \[options\] <file>/);
    expect(help.stdout).toContain('--out <file>');
  }, 40_000);

  it('says why it waits: the provider circuit open, with the batch queued counts; Ctrl-C leaves the batch running', async () => {
    // Every A1Topup call answers 500 until the breaker opens.
    await fetch(`${simulator}/_sim/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ serverErrorRate: 1 }),
    });
    const headers = { authorization: `Bearer ${api.key}`, 'content-type': 'application/json' };
    const id = randomUUID().slice(0, 6);
    await waitFor(
      'the a1topup circuit to open',
      async () => {
        await fetch(`${api.url}/v1/recharges`, {
          method: 'POST',
          headers,
          body: JSON.stringify({
            orderId: `trip-${id}-${randomUUID().slice(0, 6)}`,
            operator: 'A',
            circle: '5',
            number: '9800000009',
            amount: 10,
          }),
        });
        const answer = (await (await fetch(`${api.url}/v1/providers`, { headers })).json()) as {
          providers: { name: string; health: string }[];
        };
        return answer.providers.find((p) => p.name === 'a1topup')?.health === 'down' ? true : undefined;
      },
      20_000,
      300,
    );
    const file = writeCsv('outage.csv', [`w-${id}-1,A,5,9800000011,10`, `w-${id}-2,A,5,9800000012,10`]);
    const follow = startCli(
      ['upload', file, '--interval', '0.2', '--stall-after', '0.5', '--wait-every', '60'],
      {
        RECHARGEFLOW_RUN_FILE: runFile,
      },
      true,
    );
    const waiting = await follow.waitForLine(/^waiting: /, 20_000);
    expect(waiting).toMatch(/^waiting: 2 queued, 0 pending; a1topup circuit open since \d\d:\d\d:\d\d/);
    follow.kill('SIGINT');
    expect(await follow.closed).toBe(130);
    const batchId = /batch (b_\S+) stored/.exec(follow.lines.join('\n'))?.[1];
    expect(follow.lines.at(-1)).toBe(
      `batch: stopped following batch ${batchId}; it goes on without this command (npm run batch -- follow ${batchId} picks it up again)`,
    );
    await fetch(`${simulator}/_sim/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ serverErrorRate: 0 }),
    });
  }, 40_000);

  it('npm start removes its run file when it stops; a run file naming a dead pid is not followed', async () => {
    start.kill('SIGINT');
    expect(await start.closed).toBe(0);
    expect(() => statSync(runFile)).toThrow();
    const dead = Number(
      runCommand(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout,
    );
    writeFileSync(runFile, JSON.stringify({ url: api.url, pid: dead, apiKey: api.key }));
    const run = await cli(['list'], { RECHARGEFLOW_RUN_FILE: runFile, RECHARGEFLOW_API_KEY: 'x'.repeat(20) });
    expectOneSentence(run, /http:\/\/127\.0\.0\.1:8080/);
    expect(run.stderr).not.toContain(api.url);
  }, 60_000);
});
