import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type BatchView, batchFinished, batchReasons } from './api-types.ts';
import { summaryText, tallyResults } from './summary.ts';

const csv = (text: string) => Readable.from([text]);

describe('results.csv tally', () => {
  it('counts rows by state and reason, finding the columns by name', async () => {
    const tally = await tallyResults(
      csv(
        [
          'orderId,operator,number,amount,status,providerOrderId,providerRef,error',
          'a,A,9800000001,10,success,RF1,OP1,',
          'b,A,123,10,rejected,,,"number: must be a 10-digit mobile number, like 98..."',
          'c,A,9800000003,10,failed,RF3,,never sent: a1topup circuit open',
          'd,A,9800000004,10,failed,RF4,,never sent: a1topup circuit open',
          '',
        ].join('\r\n'),
      ),
    );
    expect(tally.rows).toBe(4);
    expect(tally.states).toEqual({ success: 1, rejected: 1, failed: 2 });
    expect([...tally.reasons]).toEqual([
      ['rejected: number: must be a 10-digit mobile number, like 98...', 1],
      ['failed: never sent: a1topup circuit open', 2],
    ]);
  });

  it('prefers state and reason columns where the API gives them, and any state name', async () => {
    const tally = await tallyResults(
      csv('orderId,amount,state,reason,error\nx,1,not_read,"line 3: unclosed quote",\ny,1,stopped,,old\n'),
    );
    expect(tally.states).toEqual({ not_read: 1, stopped: 1 });
    expect([...tally.reasons.keys()]).toEqual(['not_read: line 3: unclosed quote']);
  });
});

describe('summary', () => {
  const view: BatchView = {
    batchId: 'b_9',
    state: 'stopped',
    filename: 'orders.csv',
    rows: { read: 3, accepted: 2, rejected: 1 },
    orders: { queued: 0, success: 2, failed: 0 },
    error: null,
    stopReason: 'unclosed quote at line 4',
  };

  it('shows states without a fixed list, the API reasons, the top row reasons and where results are', () => {
    const text = summaryText({
      view,
      tally: {
        rows: 5,
        states: { success: 2, rejected: 1, not_read: 2 },
        reasons: new Map([
          ['not_read: not read: the file broke at line 4', 2],
          ['rejected: amount too high', 1],
        ]),
      },
      resultsPath: '/tmp/orders.results.csv',
      topReasons: 1,
    });
    expect(text).toContain('batch b_9 (orders.csv): stopped');
    expect(text).toContain('orders:   success 2\n');
    expect(text).toContain('by row:   success 2, not_read 2, rejected 1');
    expect(text).toContain('stopped:  unclosed quote at line 4');
    expect(text).toMatch(/ {5}2 {2}not_read: not read: the file broke at line 4/);
    expect(text).toMatch(/ {5}1 {2}rows with 1 other reasons/);
    expect(text).toContain('results:  /tmp/orders.results.csv (5 rows)');
  });

  it('a batch is finished once nothing reads or moves, whatever its final state is called', () => {
    expect(batchFinished(view)).toBe(true);
    expect(batchFinished({ ...view, orders: { queued: 1 } })).toBe(false);
    expect(batchFinished({ ...view, state: 'importing', orders: {} })).toBe(false);
    expect(batchFinished({ ...view, state: 'imported', orders: {} })).toBe(false);
    expect(batchFinished({ ...view, state: 'done' })).toBe(true);
    expect(batchReasons({ ...view, error: 'unclosed quote at line 4' })).toEqual([
      'unclosed quote at line 4',
    ]);
  });
});
