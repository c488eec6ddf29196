import { describe, expect, it } from 'vitest';
import { csvCell, csvLine, neutraliseCell } from './csv-text.ts';

describe('neutraliseCell', () => {
  it('puts a quote mark before anything a spreadsheet would run as a formula', () => {
    for (const start of ['=', '+', '-', '@', '\t', '\r']) {
      expect(neutraliseCell(`${start}1+2`)).toBe(`'${start}1+2`);
    }
    expect(neutraliseCell('=HYPERLINK("http://x","y")')).toBe('\'=HYPERLINK("http://x","y")');
    expect(neutraliseCell('-3')).toBe("'-3");
  });

  it('leaves every other cell as it is', () => {
    for (const value of ['', 'abc', '9876543210', '1=1', " '=x", 'a-b', '199.50', "'already"]) {
      expect(neutraliseCell(value)).toBe(value);
    }
  });
});

describe('CSV quoting', () => {
  it('quotes cells with a comma, quote or line break and doubles inner quotes', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
  });

  it('neutralises before quoting, and ends lines with CRLF', () => {
    expect(csvCell('=1,2')).toBe('"\'=1,2"');
    expect(csvCell('\rx')).toBe('"\'\rx"');
    expect(csvLine(['a', '=b', 'c,d', ''])).toBe('a,\'=b,"c,d",\r\n');
  });
});
