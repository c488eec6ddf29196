import { describe } from 'vitest';
import { batchMemberContract } from './batches/members.ts';
import { batchRecordContract } from './batches/records.ts';
import { uploadContract } from './batches/uploads.ts';
import type { LiveFixture } from './fixtures.ts';

/** The batches slice of the contract: BatchStore (batches, uploads, rows, bulk orders, membership), in parts (batches/). */
export function batchContract(live: LiveFixture): void {
  describe('batches', () => {
    batchRecordContract(live);
    uploadContract(live);
    batchMemberContract(live);
  });
}
