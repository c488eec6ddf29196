import { type FieldIssue, ValidationError } from '@rechargeflow/domain';
import { createScanner } from 'jsonc-parser';
import { RequestRefusedError } from './request-errors.ts';

// Token kinds of jsonc-parser's scanner (its `SyntaxKind`, a const enum the compiler may not inline
// across packages here, so the values are named once).
const OPEN_BRACE = 1;
const CLOSE_BRACE = 2;
const OPEN_BRACKET = 3;
const CLOSE_BRACKET = 4;
const COMMA = 5;
const COLON = 6;
const NULL = 7;
const TRUE = 8;
const FALSE = 9;
const STRING = 10;
const NUMBER = 11;
const LINE_BREAK = 14;
const WHITESPACE = 15;
const EOF = 17;

/** No request body of ours nests deeper than 3; far deeper is refused before anything walks it. */
export const MAX_JSON_DEPTH = 32;

/**
 * Keys refused anywhere in a body: merged into an object, they would reach its prototype. No field
 * of the API has these names.
 */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

type Frame =
  | {
      kind: 'object';
      path: string;
      keys: Set<string>;
      state: 'key_or_end' | 'key' | 'colon' | 'value' | 'comma_or_end';
      key: string;
    }
  | { kind: 'array'; path: string; index: number; state: 'value_or_end' | 'value' | 'comma_or_end' };

/**
 * A request body as JSON, strictly: one JSON text (no comments, no trailing commas), at most
 * `MAX_JSON_DEPTH` deep, each key once per object and none of `__proto__`, `constructor`,
 * `prototype`. `JSON.parse` alone would keep the last of two equal keys, so
 * `{"amount":10,"amount":5000}` would silently be an order of 5,000.
 *
 * The text is walked once with jsonc-parser's scanner (it decodes escapes, so `"amo\u0075nt"` is
 * `amount`), then built by `JSON.parse`. An empty body is `undefined` (the route says what it
 * needs). Throws `RequestRefusedError` (400 `invalid_json`, with line and column) for text that is
 * not JSON, and `ValidationError` (400, every repeated or forbidden key named by its path) for keys.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  const issues = checkJsonText(text);
  if (issues.length > 0) throw new ValidationError(issues);
  try {
    return JSON.parse(text);
  } catch (error) {
    // A safety net: the walk above lets only JSON through, and JSON.parse has the last word.
    throw invalidJson('the body is not valid JSON', error);
  }
}

function invalidJson(message: string, cause?: unknown): RequestRefusedError {
  return new RequestRefusedError(400, 'invalid_json', `${message}; send one JSON object`, { cause });
}

function checkJsonText(text: string): FieldIssue[] {
  const scanner = createScanner(text, false);
  const issues: FieldIssue[] = [];
  const stack: Frame[] = [];
  let done = false; // the top-level value is complete
  const at = () => `line ${scanner.getTokenStartLine() + 1}, column ${scanner.getTokenStartCharacter() + 1}`;
  const fail: (what: string) => never = (what) => {
    throw invalidJson(`the body is not valid JSON: ${what} at ${at()}`);
  };
  const childPath = (): string => {
    const top = stack.at(-1);
    if (!top) return '';
    if (top.kind === 'array') return `${top.path}[${top.index}]`;
    return top.path === '' ? top.key : `${top.path}.${top.key}`;
  };
  /** A value (scalar or closed container) ends: its parent now wants a comma or its end. */
  const valueDone = () => {
    const top = stack.at(-1);
    if (!top) done = true;
    else top.state = 'comma_or_end';
  };
  /** Whether a value may start here. */
  const wantsValue = (): boolean => {
    const top = stack.at(-1);
    if (!top) return !done;
    return top.kind === 'object'
      ? top.state === 'value'
      : top.state === 'value' || top.state === 'value_or_end';
  };

  for (;;) {
    const token = scanner.scan();
    if (token === LINE_BREAK || token === WHITESPACE) continue;
    if (scanner.getTokenError() !== 0) fail('a malformed string or number');
    if (token === EOF) break;
    const top = stack.at(-1);
    switch (token) {
      case OPEN_BRACE:
      case OPEN_BRACKET: {
        if (!wantsValue()) fail(`an unexpected "${token === OPEN_BRACE ? '{' : '['}"`);
        if (stack.length >= MAX_JSON_DEPTH) fail(`nesting deeper than ${MAX_JSON_DEPTH} levels`);
        const path = childPath();
        stack.push(
          token === OPEN_BRACE
            ? { kind: 'object', path, keys: new Set(), state: 'key_or_end', key: '' }
            : { kind: 'array', path, index: 0, state: 'value_or_end' },
        );
        break;
      }
      case CLOSE_BRACE:
        if (top?.kind !== 'object' || (top.state !== 'key_or_end' && top.state !== 'comma_or_end'))
          fail('an unexpected "}"');
        stack.pop();
        valueDone();
        break;
      case CLOSE_BRACKET:
        if (top?.kind !== 'array' || (top.state !== 'value_or_end' && top.state !== 'comma_or_end'))
          fail('an unexpected "]"');
        stack.pop();
        valueDone();
        break;
      case COMMA:
        if (top?.state !== 'comma_or_end') fail('an unexpected ","');
        if (top.kind === 'object') top.state = 'key';
        else {
          top.index += 1;
          top.state = 'value';
        }
        break;
      case COLON:
        if (top?.kind !== 'object' || top.state !== 'colon') fail('an unexpected ":"');
        top.state = 'value';
        break;
      case STRING:
        if (top?.kind === 'object' && (top.state === 'key_or_end' || top.state === 'key')) {
          const key = scanner.getTokenValue();
          const field = top.path === '' ? key : `${top.path}.${key}`;
          if (FORBIDDEN_KEYS.has(key)) {
            issues.push({ field, rule: 'forbidden_key', message: 'is not a field of this API' });
          } else if (top.keys.has(key)) {
            if (!issues.some((i) => i.field === field && i.rule === 'duplicate_key'))
              issues.push({
                field,
                rule: 'duplicate_key',
                message: 'appears more than once; send each field once',
              });
          }
          top.keys.add(key);
          top.key = key;
          top.state = 'colon';
          break;
        }
        if (!wantsValue()) fail('an unexpected string');
        valueDone();
        break;
      case NUMBER:
      case TRUE:
      case FALSE:
      case NULL:
        if (!wantsValue()) fail('an unexpected value');
        valueDone();
        break;
      default:
        // Comments, single quotes, bare words, stray characters: JSON has none of them.
        fail('an unexpected character');
    }
  }
  if (!done || stack.length > 0) fail('the text ends early');
  return issues;
}
