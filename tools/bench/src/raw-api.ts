/**
 * The ingest baseline's server: a bare Fastify route (the API's framework and BullMQ, at the
 * versions the http and queue packages pin; default settings, no logger) that answers
 * `POST /v1/recharges` with 202 after one raw BullMQ `Queue.add` of a job shaped like a recharge
 * job — the floor of "an HTTP request that queues one job" on this machine and Redis, with none
 * of Rechargeflow's work (auth, validation, ledger, logging, metrics).
 * Started with one JSON argument `{ prefix, port }`; prints `listening` when ready.
 */
import { createHash } from 'node:crypto';
import { jobOptions } from '@rechargeflow/queue';
import { Queue } from 'bullmq';
import fastify from 'fastify';
import { Redis } from 'ioredis';

interface Args {
  readonly prefix: string;
  readonly port: number;
}

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
    // The options Rechargeflow's own recharge jobs get (attempts, back-off, retention).
    jobOptions('recharge', `recharge-${id}-a1topup`),
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
