import { XMLParser, XMLValidator } from 'fast-xml-parser';

/**
 * Pure parsing of A1Topup answers. Nothing here decides what an answer means for an order (that is
 * in `interpret.ts`); it only turns bytes into named fields, or says why it cannot.
 */

/** The fields of a recharge or status answer, as text; absent when the answer did not carry them. */
export interface AnswerFields {
  readonly txid?: string | undefined;
  readonly status?: string | undefined;
  readonly opid?: string | undefined;
  readonly number?: string | undefined;
  readonly amount?: string | undefined;
  readonly orderid?: string | undefined;
  readonly message?: string | undefined;
  readonly balance?: string | undefined;
}

export type BodyShape = 'csv' | 'json' | 'xml';

export type ParsedBody =
  | {
      readonly ok: true;
      readonly shape: BodyShape;
      readonly fields: AnswerFields;
      /** The values in order, when the answer was positional (csv, or xml without names). */
      readonly values?: readonly string[] | undefined;
    }
  | { readonly ok: false; readonly reason: 'empty' | 'html' | 'unparseable'; readonly detail: string };

type FieldName = keyof AnswerFields;

/** Document order of the csv answer and of a values-only xml answer. */
const POSITIONS: readonly FieldName[] = ['txid', 'status', 'opid', 'number', 'amount', 'orderid', 'message'];

/** Known spellings of each field, lower case with `_`, `-` and spaces removed. */
const ALIASES: Readonly<Record<string, FieldName>> = {
  txid: 'txid',
  txnid: 'txid',
  tid: 'txid',
  transactionid: 'txid',
  status: 'status',
  opid: 'opid',
  operatorid: 'opid',
  operatorref: 'opid',
  oprid: 'opid',
  number: 'number',
  mobile: 'number',
  mobileno: 'number',
  amount: 'amount',
  orderid: 'orderid',
  message: 'message',
  msg: 'message',
  error: 'message',
  errormessage: 'message',
  remark: 'message',
  remarks: 'message',
  description: 'message',
  balance: 'balance',
  bal: 'balance',
  currentbalance: 'balance',
  availablebalance: 'balance',
};

function fieldName(key: string): FieldName | undefined {
  return ALIASES[key.toLowerCase().replace(/[\s_-]+/g, '')];
}

const HTML_PATTERN = /^\s*(<!doctype\s+html|<html[\s>])|<(head|body|title)[\s>]/i;

/** Any body: sniffed, not trusted to be in the format asked for (providers of this kind ignore it). */
export function parseAnswerBody(body: string): ParsedBody {
  const text = body.replace(/^\uFEFF/, '').trim();
  if (text === '') return { ok: false, reason: 'empty', detail: 'the answer body was empty' };
  if (HTML_PATTERN.test(text)) return { ok: false, reason: 'html', detail: 'the answer was an HTML page' };
  if (text.startsWith('{') || text.startsWith('[')) return parseJson(text);
  if (text.startsWith('<')) return parseXml(text);
  return parseCsv(text);
}

function unparseable(detail: string): ParsedBody {
  return { ok: false, reason: 'unparseable', detail };
}

function scalar(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function namedFields(entries: Iterable<[string, string | undefined]>): AnswerFields {
  const fields: Partial<Record<FieldName, string>> = {};
  for (const [key, value] of entries) {
    const name = fieldName(key);
    if (name && value !== undefined && fields[name] === undefined) fields[name] = value;
  }
  return fields;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string): ParsedBody {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The SyntaxError quotes the body (it may hold a phone number): never pass it on.
    return unparseable('the answer was not valid JSON');
  }
  if (Array.isArray(value)) value = value[0];
  if (!isRecord(value)) return unparseable('the JSON answer was not an object');
  // Accept one level of wrapping, e.g. {"Response": {...}} or {"data": {...}}.
  const hasKnownKey = (o: Record<string, unknown>) =>
    Object.keys(o).some((k) => fieldName(k) === 'status' || fieldName(k) === 'balance');
  if (!hasKnownKey(value)) {
    const inner = Object.values(value).find((v) => isRecord(v) && hasKnownKey(v));
    if (isRecord(inner)) value = inner;
  }
  const fields = namedFields(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, scalar(v)]),
  );
  return { ok: true, shape: 'json', fields };
}

const xmlParser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: { enabled: true, maxEntityCount: 20, maxTotalExpansions: 100, maxExpandedLength: 65_536 },
  maxNestedTags: 20,
});

interface Leaf {
  readonly name: string;
  readonly text: string;
}

/** Leaf elements in document order (preserveOrder gives `[{tag: [children]}, {'#text': ...}]`). */
function collectLeaves(nodes: unknown, into: Leaf[]): void {
  if (!Array.isArray(nodes)) return;
  for (const node of nodes) {
    if (!isRecord(node)) continue;
    for (const [name, children] of Object.entries(node)) {
      if (name === '#text' || name === ':@') continue;
      const kids = Array.isArray(children) ? children : [];
      const elementKids = kids.filter(
        (k) => isRecord(k) && Object.keys(k).some((n) => n !== '#text' && n !== ':@'),
      );
      if (elementKids.length === 0) {
        const text = kids
          .map((k) => (isRecord(k) ? scalar(k['#text']) : undefined))
          .filter((t) => t !== undefined)
          .join(' ');
        into.push({ name, text: text.trim() });
      } else {
        collectLeaves(kids, into);
      }
    }
  }
}

function parseXml(text: string): ParsedBody {
  if (XMLValidator.validate(text) !== true) return unparseable('the answer was not well-formed XML');
  let tree: unknown;
  try {
    tree = xmlParser.parse(text);
  } catch {
    return unparseable('the XML answer could not be read');
  }
  const leaves: Leaf[] = [];
  collectLeaves(tree, leaves);
  if (leaves.length === 0) return unparseable('the XML answer held no values');
  const named = namedFields(leaves.map((l) => [l.name, l.text]));
  if (named.status !== undefined || named.balance !== undefined)
    return { ok: true, shape: 'xml', fields: named };
  // Values only (the document's sample): by position; a single text of values is split on spaces.
  const only = leaves.length === 1 ? leaves[0] : undefined;
  const values = only ? only.text.split(/\s+/).filter(Boolean) : leaves.map((l) => l.text);
  return { ok: true, shape: 'xml', fields: positional(values), values };
}

function positional(values: readonly string[]): AnswerFields {
  const fields: Partial<Record<FieldName, string>> = {};
  POSITIONS.forEach((name, i) => {
    const value = values[i];
    if (value !== undefined) fields[name] = value;
  });
  return fields;
}

function csvCells(line: string): string[] {
  return line.split(',').map((cell) =>
    cell
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .trim(),
  );
}

function parseCsv(text: string): ParsedBody {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  // A header row (`txid,status,...`) is tolerated; several data rows are not an answer to one request.
  if (lines.length > 1 && lines[0] && fieldName(csvCells(lines[0])[1] ?? '') === 'status') lines.shift();
  if (lines.length !== 1 || !lines[0])
    return unparseable('the answer was not one line of comma-separated values');
  // One cell is allowed (a bare balance); a recharge answer without a status is refused later.
  const cells = csvCells(lines[0]);
  return { ok: true, shape: 'csv', fields: positional(cells), values: cells };
}

export type MappedStatus = 'success' | 'failed' | 'pending';

/** `Success` / `Failure` / `Failed` / `Pending` in any case; anything else is unknown. */
export function mapStatus(raw: string | undefined): MappedStatus | undefined {
  switch (raw?.trim().toLowerCase()) {
    case 'success':
      return 'success';
    case 'failure':
    case 'failed':
      return 'failed';
    case 'pending':
      return 'pending';
    default:
      return undefined;
  }
}

const NO_RECORD =
  /no\s*records?\s*(found|exists?)|records?\s*not\s*found|no\s*such\s*(order|transaction|txn|record)|(order|transaction|txn)\s*(id\s*)?not\s*found|no\s*(data|transaction)\s*found|invalid\s*order\s*id/i;

/** A status answer that says the provider has no record of the orderid. */
export function saysNoRecord(fields: AnswerFields): boolean {
  return [fields.message, fields.opid, fields.status].some((t) => t !== undefined && NO_RECORD.test(t));
}

/**
 * Rupees as providers write them (`1234.5`, `Rs. 1,234.50`, `-12`) into paise; `null` when it is not
 * an amount. Thousands separators only make sense outside csv, so csv callers pass cells.
 */
export function rupeesToPaise(text: string | undefined): number | null {
  if (text === undefined) return null;
  const cleaned = text
    .trim()
    .replace(/^(rs\.?|inr|₹)\s*/i, '')
    .replace(/,/g, '');
  const match = /^(-?)(\d{1,12})(?:\.(\d+))?$/.exec(cleaned);
  if (!match) return null;
  const [, sign = '', whole = '0', fraction = ''] = match;
  const thousandths = Number(fraction.padEnd(3, '0').slice(0, 3));
  const paise = Number(whole) * 100 + Math.floor(thousandths / 10) + (thousandths % 10 >= 5 ? 1 : 0);
  return sign === '-' ? -paise : paise;
}

export type ParsedBalance =
  | { readonly ok: true; readonly paise: number; readonly raw: string }
  | { readonly ok: false; readonly refused: true; readonly message: string }
  | { readonly ok: false; readonly refused: false; readonly reason: string; readonly detail: string };

/**
 * Balance answers are not specified by the document: accept a named balance (json/xml), or the first
 * amount among positional values (`Success,1234.50`, `1234.50`). A Failure status is a refusal.
 */
export function parseBalanceBody(body: string): ParsedBalance {
  const parsed = parseAnswerBody(body);
  if (!parsed.ok) return { ok: false, refused: false, reason: parsed.reason, detail: parsed.detail };
  const values = parsed.values ?? [];
  const statusText = parsed.values ? values.find((v) => mapStatus(v) !== undefined) : parsed.fields.status;
  if (mapStatus(statusText) === 'failed') {
    const message = parsed.values
      ? values.filter((v) => v !== statusText && rupeesToPaise(v) === null).join(' ')
      : (parsed.fields.message ?? '');
    return { ok: false, refused: true, message: message || 'balance request refused' };
  }
  const raw = parsed.values ? values.find((v) => rupeesToPaise(v) !== null) : parsed.fields.balance;
  const paise = rupeesToPaise(raw);
  if (raw === undefined || paise === null) {
    return { ok: false, refused: false, reason: 'unparseable', detail: 'the balance answer held no amount' };
  }
  return { ok: true, paise, raw };
}
