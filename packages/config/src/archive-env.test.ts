import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { archiveEnvShape } from './archive-env.ts';

const schema = z.object(archiveEnvShape);

describe('retention variables', () => {
  it('default to a 90-day window and no archive directory (nothing is archived without one)', () => {
    expect(schema.parse({})).toEqual({ LEDGER_RETENTION: 90 * 86_400_000, LEDGER_ARCHIVE_DIR: undefined });
    expect(schema.parse({ LEDGER_ARCHIVE_DIR: '  ' }).LEDGER_ARCHIVE_DIR).toBeUndefined();
  });

  it('read the window with units, 0 as off, and refuse anything else', () => {
    expect(schema.parse({ LEDGER_RETENTION: '30d', LEDGER_ARCHIVE_DIR: '/var/lib/rf' })).toEqual({
      LEDGER_RETENTION: 30 * 86_400_000,
      LEDGER_ARCHIVE_DIR: '/var/lib/rf',
    });
    expect(schema.parse({ LEDGER_RETENTION: '0' }).LEDGER_RETENTION).toBe(0);
    const bad = schema.safeParse({ LEDGER_RETENTION: 'a quarter' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['LEDGER_RETENTION']);
    expect(schema.safeParse({ LEDGER_RETENTION: '-5d' }).success).toBe(false);
    // Below 7d a client's retry could outlive the tombstone and be sent again under the same orderid.
    for (const short of ['1s', '500ms', '6d', '143h']) {
      const refused = schema.safeParse({ LEDGER_RETENTION: short });
      expect(refused.success, short).toBe(false);
      expect(refused.error?.issues[0]?.message).toBe('must be 0 (off) or at least 7d');
    }
    expect(schema.parse({ LEDGER_RETENTION: '7d' }).LEDGER_RETENTION).toBe(7 * 86_400_000);
  });
});
