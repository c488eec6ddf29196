import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseEnv } from './env.ts';
import { configuredSecrets } from './secrets.ts';
import { redisRoles, storageEnvShape } from './shared-env.ts';

const schema = z.object(storageEnvShape);
const load = (env: Record<string, string | undefined>) => parseEnv('test', schema, env);

describe('Redis roles: the ledger and the queue side', () => {
  it('both fall back on REDIS_URL, each may be split off, and cluster seeds replace QUEUE_REDIS_URL', () => {
    expect(redisRoles(load({}))).toEqual({
      ledgerUrl: 'redis://127.0.0.1:6379',
      queue: { kind: 'single', url: 'redis://127.0.0.1:6379' },
    });
    expect(redisRoles(load({ REDIS_URL: 'redis://one:6379', LEDGER_REDIS_URL: ' ' }))).toEqual({
      ledgerUrl: 'redis://one:6379',
      queue: { kind: 'single', url: 'redis://one:6379' },
    });
    expect(
      redisRoles(load({ LEDGER_REDIS_URL: 'redis://ledger:6379', QUEUE_REDIS_URL: 'rediss://queue:6380' })),
    ).toEqual({ ledgerUrl: 'redis://ledger:6379', queue: { kind: 'single', url: 'rediss://queue:6380' } });
    expect(
      redisRoles(
        load({
          QUEUE_REDIS_URL: 'redis://queue:6379',
          QUEUE_REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001,[::1]:7002',
        }),
      ).queue,
    ).toEqual({
      kind: 'cluster',
      seeds: {
        nodes: [
          { host: '10.0.0.1', port: 7000 },
          { host: 'redis-b', port: 7001 },
          { host: '::1', port: 7002 },
        ],
        tls: false,
      },
    });
  });

  it('cluster seeds written as URLs carry the credentials and TLS for every node', () => {
    const config = load({
      QUEUE_REDIS_CLUSTER_NODES: 'rediss://app:p%40ss@a:7000,b:7001,rediss://app:p%40ss@c:7002',
    });
    expect(config.QUEUE_REDIS_CLUSTER_NODES).toEqual({
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
        { host: 'c', port: 7002 },
      ],
      username: 'app',
      password: 'p@ss',
      tls: true,
    });
    expect(configuredSecrets({ QUEUE_REDIS_CLUSTER_NODES: 'rediss://app:p%40ss@a:7000,b:7001' })).toEqual([
      'p@ss',
    ]);
    expect(
      configuredSecrets({
        LEDGER_REDIS_URL: 'redis://:ledger-pass@l:6379',
        QUEUE_REDIS_URL: 'redis://:queue-pass@q:6379',
      }).sort(),
    ).toEqual(['ledger-pass', 'queue-pass']);
  });

  it('names each bad value', () => {
    for (const bad of [
      'a',
      'a:0',
      'a:70000',
      'a:7000,',
      'http://a:7000',
      'redis://a:7000/2',
      'redis://:one@a:7000,redis://:two@b:7001',
      'rediss://a:7000,redis://b:7001',
    ]) {
      expect(() => load({ QUEUE_REDIS_CLUSTER_NODES: bad }), bad).toThrow(
        /QUEUE_REDIS_CLUSTER_NODES: must be host:port seeds separated by commas/,
      );
    }
    expect(() => load({ LEDGER_REDIS_URL: 'http://x', QUEUE_REDIS_URL: 'x' })).toThrow(
      /LEDGER_REDIS_URL: must start with redis:\/\/ or rediss:\/\/[\s\S]*QUEUE_REDIS_URL: must start with redis:\/\//,
    );
  });
});
