/**
 * Reading Telgoo5 answers: the envelope `{msg, msg_code, token, errors?, data?}`. The document's
 * own sample failure bodies are not valid JSON (no comma after the `errors` array), so a body that
 * fails strict parsing is repaired (missing commas between members) and, failing that, its envelope
 * members are extracted one by one. Anything still unreadable is reported as such; the caller treats
 * it as ambiguous.
 */

export interface Envelope {
  /** `RESTAPI000` … upper case. */
  readonly msgCode: string;
  readonly msg?: string | undefined;
  /** The next token, when the answer carried a plausible one. */
  readonly token?: string | undefined;
  readonly errors: readonly string[];
  /** True when the body was not valid JSON and had to be read leniently. */
  readonly lenient: boolean;
}

export type ParsedEnvelope =
  | { readonly ok: true; readonly envelope: Envelope }
  | {
      readonly ok: false;
      readonly reason: 'empty' | 'html' | 'unparseable' | 'not_envelope';
      readonly detail: string;
      /** A token found even though the body is not a readable envelope (never trusted for more). */
      readonly token?: string | undefined;
    };

const MSG_CODE = /^RESTAPI\d{3}$/;
/** JWTs and other opaque tokens: printable, no spaces, bounded. */
const TOKEN = /^[\x21-\x7e]{8,4096}$/;
const HTML = /^\s*(<!doctype\s+html|<html[\s>])|<(head|body|title)[\s>]/i;
const MAX_ERRORS = 20;
const MAX_TEXT = 300;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim().slice(0, MAX_TEXT);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function tokenOf(value: unknown): string | undefined {
  return typeof value === 'string' && TOKEN.test(value) ? value : undefined;
}

/** `errors` as an array of strings, a single string, or an object of field -> message(s). */
function errorList(value: unknown): string[] {
  const out: string[] = [];
  const visit = (v: unknown, depth: number) => {
    if (out.length >= MAX_ERRORS || depth > 3) return;
    const t = text(v);
    if (t !== undefined) {
      if (t !== '') out.push(t);
    } else if (Array.isArray(v)) {
      for (const item of v) visit(item, depth + 1);
    } else if (isRecord(v)) {
      for (const item of Object.values(v)) visit(item, depth + 1);
    }
  };
  visit(value, 0);
  return out;
}

function fromObject(value: unknown, lenient: boolean): ParsedEnvelope {
  if (!isRecord(value))
    return { ok: false, reason: 'not_envelope', detail: 'the answer was not a JSON object' };
  const token = tokenOf(value.token);
  const code = text(value.msg_code)?.toUpperCase();
  if (code === undefined || !MSG_CODE.test(code)) {
    return { ok: false, reason: 'not_envelope', detail: 'the answer carried no msg_code', token };
  }
  return {
    ok: true,
    envelope: { msgCode: code, msg: text(value.msg), token, errors: errorList(value.errors), lenient },
  };
}

/** Inserts the commas the document's samples leave out: a value, a line break, then the next `"key"`. */
function repairCommas(body: string): string {
  return body.replace(/([\]}"]|\d|true|false|null)(\s*\r?\n\s*)(?="[^"\r\n]*"\s*:)/g, '$1,$2');
}

/** JSON string literals in `source`, decoded; malformed ones are skipped. */
function stringLiterals(source: string): string[] {
  const out: string[] = [];
  for (const match of source.matchAll(/"((?:[^"\\\r\n]|\\.)*)"/g)) {
    try {
      out.push(JSON.parse(`"${match[1]}"`) as string);
    } catch {
      // skip
    }
  }
  return out;
}

/** Last resort: each member on its own; a member given twice with different values is unreadable. */
function extractMembers(body: string): ParsedEnvelope {
  const member = (name: string): string | undefined | null => {
    const values = new Set<string>();
    for (const m of body.matchAll(new RegExp(`"${name}"\\s*:\\s*"((?:[^"\\\\\\r\\n]|\\\\.)*)"`, 'g'))) {
      const decoded = stringLiterals(`"${m[1]}"`)[0];
      if (decoded !== undefined) values.add(decoded);
    }
    if (values.size > 1) return null;
    return [...values][0];
  };
  const code = member('msg_code');
  const token = member('token');
  const usableToken = tokenOf(token ?? undefined);
  if (code === null || token === null) {
    return { ok: false, reason: 'unparseable', detail: 'the answer gave conflicting envelope members' };
  }
  const upper = code?.trim().toUpperCase();
  if (upper === undefined || !MSG_CODE.test(upper)) {
    return { ok: false, reason: 'unparseable', detail: 'the answer was not valid JSON', token: usableToken };
  }
  const msg = member('msg');
  const errorsMatch = /"errors"\s*:\s*\[([^\]]*)\]/.exec(body);
  return {
    ok: true,
    envelope: {
      msgCode: upper,
      msg: msg === null ? undefined : msg?.trim().slice(0, MAX_TEXT),
      token: usableToken,
      errors: errorsMatch?.[1] ? errorList(stringLiterals(errorsMatch[1])) : [],
      lenient: true,
    },
  };
}

export function parseEnvelope(body: string): ParsedEnvelope {
  const trimmed = body.replace(/^\uFEFF/, '').trim();
  if (trimmed === '') return { ok: false, reason: 'empty', detail: 'the answer body was empty' };
  if (HTML.test(trimmed)) return { ok: false, reason: 'html', detail: 'the answer was an HTML page' };
  // Only a whole object is read leniently: a truncated body must never pass for an answer.
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) {
    return { ok: false, reason: 'unparseable', detail: 'the answer was not a JSON object' };
  }
  try {
    return fromObject(JSON.parse(trimmed), false);
  } catch {
    // The SyntaxError quotes the body (tokens, numbers): never passed on.
  }
  try {
    return fromObject(JSON.parse(repairCommas(trimmed)), true);
  } catch {
    return extractMembers(trimmed);
  }
}
