/** The bad rows of the 2,000-row file: row number (1-based) → the line and the word its error must name. */
export interface BadRow {
  readonly line: string;
  readonly mentions: RegExp;
}

export const HEADER = 'orderId,operator,circle,number,amount,value1,value2';

/** Orders the client made before the upload, each reused by one row with other details. */
export const EXISTING_CONFLICTS = [
  { orderId: 'old-conflict-1', number: '9876500001', amount: '20' },
  { orderId: 'old-conflict-2', number: '9876500003', amount: '25' },
];
/** An order the client made before the upload, repeated exactly by one row: linked, not made again. */
export const EXISTING_SAME = { orderId: 'old-same', number: '9876500002', amount: '30' };

/**
 * 2,000 data rows, 20 of them bad in different ways (10 kinds, twice each), the rest valid mobile
 * recharges with unique order ids `${tag}-${i}`; one valid row repeats an order made earlier.
 */
export function sampleCsv(tag: string): { text: string; bad: Map<number, RegExp> } {
  const lines = [HEADER];
  const bad = new Map<number, RegExp>();
  let conflicts = 0;
  const kinds: ((id: string, i: number) => BadRow)[] = [
    (id) => ({ line: `${id},NOPE,5,9876500000,10,,`, mentions: /operator/ }),
    (id) => ({ line: `${id},A,5,12345,10,,`, mentions: /number/ }),
    (id) => ({ line: `${id},A,5,9876500000,-3,,`, mentions: /amount: must be more than 0/ }),
    (id) => ({ line: `${id},A,5,9876500000,abc,,`, mentions: /amount: must be an amount in rupees/ }),
    () => ({ line: ',A,5,9876500000,10,,', mentions: /orderId: is required/ }),
    (_id, i) => ({ line: `${tag}-${i - 50},A,5,9876500000,10,,`, mentions: /already used by row/ }),
    () => {
      const old = EXISTING_CONFLICTS[conflicts++ % EXISTING_CONFLICTS.length];
      return {
        line: `${old?.orderId},A,5,${old?.number},99,,`,
        mentions: /already used for a different recharge/,
      };
    },
    (id) => ({ line: `${id},LAT,,22334455,100,,`, mentions: /value1: is required/ }),
    (id) => ({ line: `${id},A,=1+2,9876500000,10,,`, mentions: /circle/ }),
    (id) => ({ line: `${id},A,5,9876500000,10,,,extra`, mentions: /cells but the header has 7 columns/ }),
  ];
  let bads = 0;
  for (let i = 0; i < 2_000; i++) {
    const id = `${tag}-${i}`;
    if (i % 100 === 77) {
      const kind = kinds[bads % kinds.length] as (id: string, i: number) => BadRow;
      bads += 1;
      const row = kind(id, i);
      lines.push(row.line);
      bad.set(i + 1, row.mentions);
    } else if (i === 500) {
      lines.push(`${EXISTING_SAME.orderId},A,5,${EXISTING_SAME.number},${EXISTING_SAME.amount},,`);
    } else {
      lines.push(`${id},A,5,${9876500000 + (i % 1000)},10,,`);
    }
  }
  return { text: `${lines.join('\n')}\n`, bad };
}

/** An async source of `text` in pieces of `size` bytes, like a request body. */
export async function* pieces(text: string | Buffer, size = 7_919): AsyncGenerator<Buffer> {
  const data = typeof text === 'string' ? Buffer.from(text) : text;
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}
