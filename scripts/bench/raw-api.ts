/**
 * The ingest baseline's server: a bare Fastify route (the API's framework, default settings, no
 * logger) that answers `POST /v1/recharges` with 202 after one raw BullMQ `Queue.add` of a job
 * shaped like a recharge job — the floor of "an HTTP request that queues one job" on this machine
 * and Redis, with none of Rechargeflow's work (auth, validation, ledger, logging, metrics).
 * Started with one JSON argument `{ prefix, port }`; prints `listening` when ready.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';

interface Args {
  readonly prefix: string;
  readonly port: number;
}

interface RawQueue {
  add(name: string, data: unknown, options: Record<string, unknown>): Promise<unknown>;
  close(): Promise<void>;
}
type QueueClass = new (name: string, options: { connection: Redis; prefix: string }) => RawQueue;

interface RawFastify {
  post(
    path: string,
    handler: (
      request: { body: unknown },
      reply: { code(status: number): { send(body: unknown): unknown } },
    ) => unknown,
  ): void;
  listen(options: { port: number; host: string }): Promise<string>;
  close(): Promise<void>;
}

// Scripts cannot resolve the workspace's dependencies by name: taken from the packages that use them.
const fromQueue = createRequire(resolve(import.meta.dirname, '../../packages/queue/src/index.ts'));
const fromHttp = createRequire(resolve(import.meta.dirname, '../../packages/http/src/index.ts'));
const { Queue } = fromQueue('bullmq') as { Queue: QueueClass };
const fastify = fromHttp('fastify') as () => RawFastify;

// One read of the environment (the bench is no Turborepo task; nothing of it is cached).
const env: Record<string, string | undefined> = { ...process.env };
const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const connection = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
const queue = new Queue('recharges-a1topup', { connection, prefix: args.prefix });
const app = fastify();
app.post('/v1/recharges', async (request, reply) => {
  const { orderId } = request.body as { orderId: string };
  const id = createHash('sha256').update(orderId).digest('hex').slice(0, 32);
  await queue.add(
    'recharge',
    { clientId: 'bench', orderId },
    {
      jobId: `recharge-${id}-a1topup`,
      attempts: 6,
      backoff: { type: 'exponential', delay: 2_000 },
      removeOnComplete: { age: 24 * 3600, count: 100_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  );
  return reply.code(202).send({ orderId, status: 'queued' });
});
await app.listen({ port: args.port, host: '127.0.0.1' });
process.stdout.write('listening\n');
process.once('SIGTERM', () => {
  void app
    .close()
    .then(() => queue.close())
    .then(() => {
      connection.disconnect();
      process.exit(0);
    });
});
