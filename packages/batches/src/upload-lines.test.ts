import { describe, expect, it } from 'vitest';
import { countNewlines, countRowsFrom, type Utf8Break, untilNotUtf8 } from './upload-lines.ts';

/** `data` in pieces of `size` bytes, like the stored upload's chunks. */
async function* pieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function passed(data: Buffer, size: number): Promise<{ text: Buffer; where?: Utf8Break }> {
  let where: Utf8Break | undefined;
  const out: Buffer[] = [];
  for await (const part of untilNotUtf8(pieces(data, size), (w) => {
    where = w;
  }))
    out.push(part);
  return { text: Buffer.concat(out), ...(where ? { where } : {}) };
}

describe('untilNotUtf8', () => {
  const good = 'h1,h2\r\nä,€\r\n"x\ny",😀\r\n';

  it('passes UTF-8 text on whole, in any piece size, a character split across pieces included', async () => {
    for (const size of [1, 2, 3, 5, 7, 64]) {
      const result = await passed(Buffer.from(`${good}last,line`), size);
      expect(result.text.toString()).toBe(`${good}last,line`);
      expect(result.where).toBeUndefined();
    }
  });

  it('stops at the start of the first line holding a byte that is not UTF-8, and says which line', async () => {
    const data = Buffer.concat([
      Buffer.from(good),
      Buffer.from('ok,1\nbad,'),
      Buffer.from([0xe9]),
      Buffer.from(',x\nmore,2\n'),
    ]);
    for (const size of [1, 4, 9, 1_000]) {
      const result = await passed(data, size);
      expect(result.text.toString()).toBe(`${good}ok,1\n`);
      // good holds 4 line feeds (one inside the quoted cell): ok,1 is line 5, bad,… line 6.
      expect(result.where).toEqual({ line: 6, offset: Buffer.byteLength(`${good}ok,1\n`) });
    }
    // On the first line, and on a last line without a line feed.
    expect((await passed(Buffer.from([0xff, 0xfe, 0x68, 0x00]), 2)).where).toEqual({ line: 1, offset: 0 });
    const tail = Buffer.concat([Buffer.from('a\nb\n'), Buffer.from([0x63, 0xc3])]);
    expect(await passed(tail, 3)).toEqual({ text: Buffer.from('a\nb\n'), where: { line: 3, offset: 4 } });
  });
});

describe('countRowsFrom', () => {
  const text = Buffer.from('h1,h2\r\nrow1\r\n\r\n , ,\r\n"open\r\nrow3\nrow4');
  const from = Buffer.byteLength('h1,h2\r\nrow1\r\n');

  it('counts the lines that hold a row from a line start to the end, and their lines', async () => {
    for (const size of [1, 3, 8, 1_000]) {
      expect(await countRowsFrom(pieces(text, size), from)).toEqual({
        lineAt: 3,
        firstRowLine: 5,
        rows: 3,
        unreadable: undefined,
      });
      expect(await countRowsFrom(pieces(text, size), 0)).toMatchObject({
        lineAt: 1,
        firstRowLine: 1,
        rows: 5,
      });
    }
    expect(await countRowsFrom(pieces(text, 4), text.length)).toMatchObject({ lineAt: 7, rows: 0 });
    expect(countNewlines(text)).toBe(6);
  });

  it('counts what it can read when the stored file breaks off', async () => {
    async function* broken() {
      yield Buffer.from('h\nr1\nr2\n');
      throw new Error('a chunk is missing');
    }
    expect(await countRowsFrom(broken(), 2)).toEqual({
      lineAt: 2,
      firstRowLine: 2,
      rows: 2,
      unreadable: 'a chunk is missing',
    });
  });
});
