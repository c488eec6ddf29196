/**
 * Secrets cut out of text by value and by place, the last line of defence before a log line is
 * written (createLogger runs every line through `scrubLine`):
 *
 * - **by place**: whatever follows `callbacks/` in a URL path (the callback token, and anything
 *   else there) becomes `[redacted]`, however the URL is written — origin-form or absolute-form,
 *   doubled slashes, `.` / `..` segments, backslashes, `%2F`, any percent-encoding of any character
 *   (also double-encoded, `%252F`), JSON `\u` escapes. A known provider name right after
 *   `callbacks/` is kept, so lines still say which provider called;
 * - **by value**: each configured secret (callback tokens, API keys given in clear, provider
 *   passwords) wherever it appears — as is, with any of its characters percent-encoded (in any
 *   case, once or twice) or `\u`-escaped, and inside base64 or base64url text (Basic auth headers,
 *   tokens built from it). Secrets shorter than MIN_SECRET_LENGTH are left to the path rules;
 * - **by shape**: anything shaped like a JSON Web Token (Telgoo5 session tokens).
 */

export const REDACTED = '[redacted]';

/** Shorter secrets are not searched by value: they would cut ordinary words and numbers. */
export const MIN_SECRET_LENGTH = 8;

/** Provider names kept after `callbacks/` so a redacted line still says who called. */
const CALLBACK_PROVIDERS = ['a1topup_backup', 'a1topup', 'telgoo5'];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function hex2(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

/**
 * A regular-expression source matching `char` as written or encoded: raw, percent-encoded (one
 * `%XX` per UTF-8 byte, the `%` itself possibly encoded again as `%25`), a JSON `\uXXXX` escape, and
 * for `"` and `\` the JSON escape. Hex digits match in either case (the regex has the `i` flag).
 */
function charPattern(char: string): string {
  const alternatives = [escapeRegExp(char)];
  const bytes = [...Buffer.from(char, 'utf8')];
  alternatives.push(bytes.map((b) => `%(?:25)*${hex2(b)}`).join(''));
  const code = char.codePointAt(0) ?? 0;
  if (code <= 0xffff) alternatives.push(`\\\\u${code.toString(16).padStart(4, '0')}`);
  if (char === '"' || char === '\\') alternatives.push(`\\\\${escapeRegExp(char)}`);
  return `(?:${alternatives.join('|')})`;
}

/** `text` as a pattern that matches it with any of its characters encoded (charPattern). */
export function encodedPattern(text: string): string {
  return [...text].map(charPattern).join('');
}

/**
 * The stretches of base64 (and base64url) text that appear whenever `secret` is base64-encoded
 * as part of a longer string, at each of the three byte alignments: the characters that depend on
 * the neighbouring bytes are left off each end.
 */
export function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms = new Set<string>();
  for (let offset = 0; offset < 3; offset++) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
    const encoded = padded.toString('base64').replace(/=+$/, '');
    // Leading characters that carry pad bits, trailing ones that carry the next bytes' bits.
    const start = Math.ceil((offset * 8) / 6);
    const end = Math.floor((padded.length * 8) / 6);
    const stable = encoded.slice(start, end);
    if (stable.length >= MIN_SECRET_LENGTH) {
      forms.add(stable);
      forms.add(stable.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  return [...forms];
}

/** A path separator as it may be written: `/` or `\` raw, JSON-escaped or percent-encoded. */
const SEP = `(?:/|\\\\|%(?:25)*2f|%(?:25)*5c|\\\\u002f|\\\\u005c)`;
/** `.` and `..` segments, raw or encoded. */
const DOTS = `(?:(?:\\.|%(?:25)*2e|\\\\u002e){1,2}(?=${SEP}))`;
/** Separators with any dot segments between them. */
const SEPS = `(?:${SEP}(?:${DOTS}${SEP})*)+`;
/** What a path segment may hold up to where the path ends (query, fragment, quote, space, `&`). */
const REST = `[^?#"'\\s&<>]+`;

const CALLBACK_PATH = new RegExp(
  `(${encodedPattern('callbacks')})(${SEPS})(?:(${CALLBACK_PROVIDERS.map(encodedPattern).join('|')})(${SEPS}))?(${REST})`,
  'gi',
);

/**
 * Replaces what follows `callbacks/<provider>/` (or `callbacks/` when no known provider follows)
 * in every URL path written in `text` by `[redacted]`; the rest of the text is kept as it is.
 */
export function redactCallbackPaths(text: string): string {
  return text.replace(CALLBACK_PATH, (_match, _callbacks: string, _sep: string, provider?: string) =>
    provider === undefined ? `callbacks/${REDACTED}` : `callbacks/${decodeProvider(provider)}/${REDACTED}`,
  );
}

function decodeProvider(written: string): string {
  const lower = written.toLowerCase();
  return (
    CALLBACK_PROVIDERS.find((name) => new RegExp(`^${encodedPattern(name)}$`, 'i').test(lower)) ?? 'provider'
  );
}

/** A function that removes `secrets` (by value, in every encoding above) from a text. */
export function secretScrubber(secrets: readonly string[]): (text: string) => string {
  const unique = [...new Set(secrets.filter((s) => s.length >= MIN_SECRET_LENGTH))];
  if (unique.length === 0) return (text) => text;
  const forms = new Set<string>();
  for (const secret of unique) {
    forms.add(encodedPattern(secret));
    for (const b64 of base64Forms(secret)) forms.add(escapeRegExp(b64));
  }
  // Longest first, so a secret that contains another is cut whole.
  const pattern = new RegExp([...forms].sort((a, b) => b.length - a.length).join('|'), 'gi');
  return (text) => text.replace(pattern, REDACTED);
}

/** A JSON Web Token (a Telgoo5 session token is one): header.payload.signature, base64url. */
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g;

/** One log line as written: secrets by value, session tokens by shape, callback paths by place. */
export function lineScrubber(secrets: readonly string[]): (line: string) => string {
  const bySecret = secretScrubber(secrets);
  return (line) => redactCallbackPaths(bySecret(line)).replace(JWT, REDACTED);
}
