import { describe, expect, it } from 'vitest';
import { parseRedisMemory } from './redis-memory.ts';

describe('parseRedisMemory', () => {
  it('reads used_memory, maxmemory, total_system_memory and run_id from INFO text', () => {
    const info = [
      '# Server',
      'redis_version:7.0.15',
      'run_id:4f1c2b7e',
      '# Memory',
      'used_memory:1048576',
      'used_memory_human:1.00M',
      'used_memory_rss:4194304',
      'total_system_memory:8589934592',
      'maxmemory:536870912',
      'maxmemory_policy:noeviction',
      '',
    ].join('\r\n');
    expect(parseRedisMemory(info)).toEqual({
      usedBytes: 1_048_576,
      maxBytes: 536_870_912,
      systemBytes: 8_589_934_592,
      serverId: '4f1c2b7e',
    });
  });

  it('takes a missing limit or host size as 0, and refuses a reply without used_memory', () => {
    expect(parseRedisMemory('used_memory:10\r\n')).toEqual({
      usedBytes: 10,
      maxBytes: 0,
      systemBytes: 0,
      serverId: '',
    });
    expect(() => parseRedisMemory('# Memory\r\nused_memory_rss:10\r\n')).toThrow(/used_memory/);
  });
});
