import { describe, expect, it } from 'vitest';
import { createClusterConnection, createRedisConnection, type QueueConnection } from './connection.ts';
import { bullPrefix } from './queue-prefix.ts';

const seeds = { nodes: [{ host: '127.0.0.1', port: 1 }], password: 'pw', tls: false };

/** A connection that never reaches a server: only its options are looked at. */
function offline<T extends QueueConnection>(connection: T): T {
  connection.on('error', () => undefined);
  connection.disconnect();
  return connection;
}

describe('queue keys and connections on a Redis Cluster', () => {
  it('gives each queue a hash-tagged prefix on a cluster, and QUEUE_PREFIX unchanged on one Redis', () => {
    const cluster = offline(createClusterConnection(seeds, 'producer', 'unit'));
    const single = offline(createRedisConnection('redis://127.0.0.1:1', 'producer', 'unit'));
    expect(bullPrefix('rf', 'recharges-a1topup', cluster)).toBe('rf:{recharges-a1topup}');
    expect(bullPrefix('rf', 'callbacks', cluster)).toBe('rf:{callbacks}');
    expect(bullPrefix('rf', 'recharges-a1topup', single)).toBe('rf');
  });

  it('keeps the roles: a worker waits out a failover, a producer fails fast; the login reaches every node', () => {
    const worker = offline(createClusterConnection(seeds, 'worker', 'unit'));
    const producer = offline(createClusterConnection(seeds, 'producer', 'unit'));
    expect(worker.options.redisOptions).toMatchObject({ maxRetriesPerRequest: null, password: 'pw' });
    expect(worker.options.enableOfflineQueue).not.toBe(false);
    expect(worker.options.maxRedirections).toBeGreaterThanOrEqual(100);
    expect(producer.options.redisOptions).toMatchObject({ maxRetriesPerRequest: 1, password: 'pw' });
    expect(producer.options.enableOfflineQueue).toBe(false);
    // See createClusterConnection: ioredis's ready check can leave a reconnect pending for good.
    expect(worker.options.enableReadyCheck).toBe(false);
  });
});
