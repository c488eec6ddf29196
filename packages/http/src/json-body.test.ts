import { ValidationError } from '@rechargeflow/domain';
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, parseJsonBody } from './json-body.ts';
import { RequestRefusedError } from './request-errors.ts';

function refusal(text: string): unknown {
  try {
    parseJsonBody(text);
  } catch (error) {
    return error;
  }
  throw new Error(`accepted: ${text}`);
}

/** A random JSON value with unique keys per object, a few levels deep. */
function randomValue(depth: number, next: () => number): unknown {
  const kind = Math.floor(next() * (depth > 3 ? 5 : 7));
  switch (kind) {
    case 0:
      return null;
    case 1:
      return next() < 0.5;
    case 2:
      return Math.round((next() - 0.5) * 1e6) / 100;
    case 3:
    case 4:
      return String.fromCharCode(
        ...Array.from({ length: Math.floor(next() * 8) }, () => 32 + Math.floor(next() * 0x2f00)),
      );
    case 5:
      return Array.from({ length: Math.floor(next() * 4) }, () => randomValue(depth + 1, next));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = Math.floor(next() * 4); i > 0; i--)
        out[`k${Math.floor(next() * 1e6)}"\\é`] = randomValue(depth + 1, next);
      return out;
    }
  }
}

describe('parseJsonBody', () => {
  it('reads what JSON.parse reads, for random documents', () => {
    let seed = 42;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 500; i++) {
      const text = JSON.stringify(randomValue(0, next), null, i % 2 === 0 ? 2 : undefined);
      expect(parseJsonBody(text)).toEqual(JSON.parse(text));
    }
    expect(parseJsonBody('')).toBeUndefined();
    expect(parseJsonBody(' \n ')).toBeUndefined();
  });

  it('names every repeated key by its path, escapes decoded, and refuses prototype keys', () => {
    const error = refusal('{"a":1,"b":{"c":1,"c":2},"l":[{"x":1,"\\u0078":2}],"a":3,"__proto__":{}}');
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => [i.field, i.rule])).toEqual([
      ['b.c', 'duplicate_key'],
      ['l[0].x', 'duplicate_key'],
      ['a', 'duplicate_key'],
      ['__proto__', 'forbidden_key'],
    ]);
    // The same key in different objects is fine.
    expect(parseJsonBody('{"a":{"a":1},"b":[{"a":1},{"a":2}]}')).toEqual({
      a: { a: 1 },
      b: [{ a: 1 }, { a: 2 }],
    });
  });

  it('refuses what is not strict JSON, saying where', () => {
    for (const text of [
      '{"a":1,}',
      '[1,]',
      '{"a":1} {"b":2}',
      '{"a" 1}',
      "{'a':1}",
      '{"a":1 // note\n}',
      '{"a":/* x */1}',
      '{"a":01}',
      '{"a":-}',
      '{"a":"\u0001"}',
      '{"a":"x',
      '{"a":[1,2}',
      '{a:1}',
      '\uFEFF{}',
      '{"a":tru}',
      '{',
      ',',
    ]) {
      const error = refusal(text);
      expect(error, text).toBeInstanceOf(RequestRefusedError);
      expect((error as RequestRefusedError).errorCode).toBe('invalid_json');
      expect((error as RequestRefusedError).message).toMatch(/line \d+, column \d+/);
    }
  });

  it(`refuses nesting deeper than ${MAX_JSON_DEPTH}, however long the body`, () => {
    expect(parseJsonBody(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`)).toBeDefined();
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    expect((refusal(deep) as RequestRefusedError).message).toMatch(/nesting deeper than/);
  });
});
