/**
 * `npm run batch -- <command>`: upload a CSV batch and follow it.
 *   upload <file.csv>          upload, then show progress until every order is settled
 *   status <batchId>           one look at a batch
 *   results <batchId> [out]    save results.csv (to stdout without `out`)
 * Uses RECHARGEFLOW_URL (default http://127.0.0.1:8080) and RECHARGEFLOW_API_KEY.
 * The image carries this file alone (`node tools/tooling/src/batch.ts`, see .dockerignore), without
 * the tools' dependencies: it imports Node's modules only.
 */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const url = (process.env.RECHARGEFLOW_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
const key = process.env.RECHARGEFLOW_API_KEY ?? '';
const [command, arg, out] = process.argv.slice(2);

interface BatchView {
  batchId: string;
  state: string;
  rows: { read: number; accepted: number; rejected: number };
  orders: Record<string, number>;
  error?: string | null;
}

function fail(message: string): never {
  process.stderr.write(`batch: ${message}\n`);
  process.exit(1);
}

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(`${url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, ...(init.headers ?? {}) },
  });
  if (res.status >= 400) {
    const body = await res.text();
    let message = body;
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      // not JSON
    }
    fail(`${res.status}: ${message}`);
  }
  return res;
}

async function countRows(file: string): Promise<number> {
  let lines = 0;
  for await (const line of createInterface({ input: createReadStream(file) }))
    if (line.trim() !== '') lines++;
  return Math.max(0, lines - 1);
}

function bar(done: number, total: number, width = 30): string {
  const share = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(share * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(share * 100)).padStart(3)}%`;
}

function line(view: BatchView, total: number): string {
  const o = view.orders;
  const settled = (o.success ?? 0) + (o.failed ?? 0) + (o.reversed ?? 0) + (o.manual_review ?? 0);
  const phase =
    view.state === 'importing' || view.state === 'stored'
      ? `import ${bar(view.rows.read, total)}`
      : `orders ${bar(settled, view.rows.accepted)}`;
  const states = Object.entries(o)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  return `${view.state.padEnd(9)} ${phase}  rows ${view.rows.read}/${total} (${view.rows.rejected} rejected)  ${states}`;
}

async function upload(file: string): Promise<void> {
  if (!key) fail('set RECHARGEFLOW_API_KEY (npm start prints one)');
  const size = statSync(file).size;
  const total = await countRows(file);
  process.stderr.write(`uploading ${file} (${size} bytes, ${total} rows) to ${url}\n`);
  const res = await call('/v1/batches', {
    method: 'POST',
    headers: { 'content-type': 'text/csv', 'x-filename': file.split('/').pop() ?? 'upload.csv' },
    body: Readable.toWeb(createReadStream(file)) as unknown as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  let view = (await res.json()) as BatchView;
  process.stderr.write(`${res.status === 202 ? 'new batch' : 'same file as batch'} ${view.batchId}\n`);
  for (;;) {
    process.stderr.write(`\r${line(view, total)}\u001b[K`);
    if (view.state === 'done' || view.error) break;
    await new Promise((r) => setTimeout(r, 500));
    view = (await (await call(`/v1/batches/${view.batchId}`)).json()) as BatchView;
  }
  process.stderr.write('\n');
  if (view.error) fail(view.error);
  process.stdout.write(`${view.batchId}\n`);
}

switch (command) {
  case 'upload':
    if (!arg) fail('usage: npm run batch -- upload <file.csv>');
    await upload(arg);
    break;
  case 'status': {
    if (!arg) fail('usage: npm run batch -- status <batchId>');
    const view = (await (await call(`/v1/batches/${arg}`)).json()) as BatchView;
    process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
    break;
  }
  case 'results': {
    if (!arg) fail('usage: npm run batch -- results <batchId> [out.csv]');
    const res = await call(`/v1/batches/${arg}/results.csv`);
    await pipeline(Readable.fromWeb(res.body as never), out ? createWriteStream(out) : process.stdout);
    break;
  }
  default:
    fail('commands: upload <file.csv> | status <batchId> | results <batchId> [out.csv]');
}
