/**
 * A bare Fastify server (the API's framework and BullMQ, at the versions the http and queue
 * packages pin; default settings, no logger) answering `POST /v1/recharges` with 202 after one raw
 * BullMQ `Queue.add` on `recharges-a1topup`. Started with one JSON argument `{ prefix, port,
 * handWritten? }`; prints `listening` when ready. Two uses:
 *
 * - `ingest`'s baseline (no `handWritten`): the floor of "an HTTP request that queues one job" on
 *   this machine and Redis, with none of Rechargeflow's work (auth, validation, ledger, logging,
 *   metrics): the job is shaped like a recharge job (same id shape and options).
 * - The API of `end-to-end`'s hand-written pipeline (`handWritten: true`), what a user would write
 *   instead of Rechargeflow: the API key (BENCH_API_KEY) compared, the body checked by a Fastify
 *   JSON schema (the fields a recharge needs, their types and bounds), then one `Queue.add` of the
 *   body as the job, its orderId as the job id (a repeated request adds nothing), completed jobs
 *   removed at once (`removeOnComplete: true`) and the last 1,000 failed ones kept. Refusals are
 *   Fastify's own 400 (and 401); no ledger, no logging, no metrics.
 */
import { createHash } from 'node:crypto';
import { jobOptions } from '@rechargeflow/queue';
import { Queue } from 'bullmq';
import fastify from 'fastify';
import { Redis } from 'ioredis';

interface Args {
  readonly prefix: string;
  readonly port: number;
  readonly handWritten?: boolean;
}

// One read of the environment (the bench is no Turborepo task; nothing of it is cached).
const env: Record<string, string | undefined> = { ...process.env };
const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const connection = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
const queue = new Queue('recharges-a1topup', { connection, prefix: args.prefix });
const app = fastify();

if (args.handWritten) {
  const authorization = `Bearer ${env.BENCH_API_KEY ?? ''}`;
  const body = {
    type: 'object',
    required: ['orderId', 'operator', 'number', 'amount'],
    properties: {
      orderId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
      operator: { type: 'string', minLength: 1, maxLength: 8 },
      circle: { type: 'string', minLength: 1, maxLength: 8 },
      number: { type: 'string', pattern: '^[0-9]{10}$' },
      amount: { type: 'number', exclusiveMinimum: 0, maximum: 100_000 },
    },
  } as const;
  app.post<{ Body: { orderId: string } }>('/v1/recharges', { schema: { body } }, async (request, reply) => {
    if (request.headers.authorization !== authorization)
      return reply.code(401).send({ error: 'unauthorised' });
    const { orderId } = request.body;
    await queue.add('recharge', request.body, {
      jobId: orderId,
      removeOnComplete: true,
      removeOnFail: 1_000,
    });
    return reply.code(202).send({ orderId, status: 'queued' });
  });
} else {
  app.post('/v1/recharges', async (request, reply) => {
    const { orderId } = request.body as { orderId: string };
    const id = createHash('sha256').update(orderId).digest('hex').slice(0, 32);
    await queue.add(
      'recharge',
      { clientId: 'bench', orderId },
      // The options Rechargeflow's own recharge jobs get (attempts, back-off, retention).
      jobOptions('recharge', `recharge-${id}-a1topup`),
    );
    return reply.code(202).send({ orderId, status: 'queued' });
  });
}
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
