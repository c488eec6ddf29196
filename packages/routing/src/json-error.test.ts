import { describe, expect, it } from 'vitest';
import { describeOffset, jsonErrorOffset, parseJsonWithPosition } from './json-error.ts';

describe('jsonErrorOffset', () => {
  it('finds nothing wrong in valid JSON', () => {
    for (const text of ['{}', ' [1, -2.5e3, "a\\u00e9\\n", true, false, null, {"a": []}] ', '"x"', '0']) {
      expect(jsonErrorOffset(text), text).toBeNull();
    }
  });

  it('agrees with V8 wherever V8 names the position', () => {
    const broken = [
      '{"a": 1,, }',
      '{"a"',
      '[1 2]',
      '{"a": tru}',
      '{"a": 01}',
      '[1,]',
      '{"a": "\\x"}',
      '{"a": "\\u12G4"}',
      '"\\u12',
      '{} x',
      '-',
      '"a\nb"',
    ];
    for (const text of broken) {
      let v8: number | undefined;
      try {
        JSON.parse(text);
      } catch (error) {
        const match = / at position (\d+)/.exec((error as Error).message);
        if (match) v8 = Number(match[1]);
      }
      const ours = jsonErrorOffset(text);
      expect(ours, text).not.toBeNull();
      if (v8 !== undefined) expect(ours, text).toBe(v8);
    }
  });

  it('places the end of input at the end', () => {
    expect(jsonErrorOffset('')).toBe(0);
    expect(jsonErrorOffset('{"rules": [')).toBe(11);
  });
});

describe('parseJsonWithPosition', () => {
  it('gives line, column and position, also where V8 leaves them out', () => {
    expect(() => parseJsonWithPosition('{\n  "rules": [],\n  "default": }')).toThrow(
      /^not valid JSON: Unexpected token '}' at line 3 column 14 \(position 30\)$/,
    );
    expect(() => parseJsonWithPosition('')).toThrow(
      /^not valid JSON: Unexpected end of input at line 1 column 1 \(position 0\)$/,
    );
  });

  it('returns the value when valid', () => {
    expect(parseJsonWithPosition('{"a": [1]}')).toEqual({ a: [1] });
  });

  it('describes an offset', () => {
    expect(describeOffset('ab\ncd', 4)).toBe('line 2 column 2 (position 4)');
  });
});
