/**
 * Where JSON text stops being valid. V8's JSON.parse names the position for most mistakes but not
 * all (`Unexpected token '}', "..." is not valid JSON`, `Unexpected end of JSON input`), and a person
 * fixing a config file needs a line and column every time, so this scanner finds it itself.
 */

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

class Stop {
  readonly offset: number;
  constructor(offset: number) {
    this.offset = offset;
  }
}

/** Offset of the first character that makes `text` invalid JSON, or `null` when it is valid. */
export function jsonErrorOffset(text: string): number | null {
  let i = 0;
  const skip = () => {
    while (i < text.length && WHITESPACE.has(text[i]!)) i++;
  };
  const expect = (literal: string) => {
    for (const ch of literal) {
      if (text[i] !== ch) throw new Stop(i);
      i++;
    }
  };
  const string = () => {
    expect('"');
    while (i < text.length) {
      const ch = text[i]!;
      if (ch === '"') {
        i++;
        return;
      }
      if (ch < ' ') throw new Stop(i);
      if (ch === '\\') {
        const next = text[i + 1];
        if (next === 'u') {
          for (let k = i + 2; k < i + 6; k++) {
            if (!/[0-9a-fA-F]/.test(text[k] ?? '')) throw new Stop(k);
          }
          i += 6;
        } else if (next !== undefined && '"\\/bfnrt'.includes(next)) i += 2;
        else throw new Stop(i + 1);
      } else i++;
    }
    throw new Stop(i);
  };
  const number = () => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (match === null) throw new Stop(text[i] === '-' ? i + 1 : i);
    i += match[0].length;
  };
  const value = (): void => {
    skip();
    const ch = text[i];
    if (ch === '{') {
      i++;
      skip();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        skip();
        string();
        skip();
        expect(':');
        value();
        skip();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return;
        } else throw new Stop(i);
      }
    }
    if (ch === '[') {
      i++;
      skip();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        skip();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return;
        } else throw new Stop(i);
      }
    }
    if (ch === '"') string();
    else if (ch === 't') expect('true');
    else if (ch === 'f') expect('false');
    else if (ch === 'n') expect('null');
    else number();
  };
  try {
    value();
    skip();
    return i === text.length ? null : i;
  } catch (error) {
    if (error instanceof Stop) return error.offset;
    throw error;
  }
}

/** `line 3 column 7 (position 41)`, 1-based line and column, for the offset into `text`. */
export function describeOffset(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  return `line ${line} column ${column} (position ${offset})`;
}

/**
 * Parses JSON or throws an Error saying what is wrong and where, e.g.
 * `not valid JSON: Expected double-quoted property name at line 1 column 9 (position 8)`.
 */
export function parseJsonWithPosition(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const raw = error instanceof Error ? error.message : String(error);
    // V8 repeats (part of) the input in some messages; the place is added below instead.
    const what = raw
      .replace(/, .* is not valid JSON$/s, '')
      .replace(/ in JSON at position \d+.*$/s, '')
      .replace(/ of JSON input$/, ' of input');
    const offset = jsonErrorOffset(text) ?? text.length;
    throw new Error(`not valid JSON: ${what} at ${describeOffset(text, offset)}`);
  }
}
