/**
 * Characters that make a spreadsheet treat a cell as a formula (or, for tab and CR, that some
 * spreadsheets strip before doing so): a results file must never run anything when opened.
 */
const FORMULA_START = new Set(['=', '+', '-', '@', '\t', '\r']);

/**
 * A cell a spreadsheet would run as a formula gets a leading `'`, which spreadsheets show as text
 * (OWASP "CSV injection"). Other cells are returned unchanged.
 */
export function neutraliseCell(value: string): string {
  return value.length > 0 && FORMULA_START.has(value[0] as string) ? `'${value}` : value;
}

const NEEDS_QUOTES = /[",\r\n]/;

/** One CSV cell, neutralised, quoted when it holds a quote, comma or line break (RFC 4180). */
export function csvCell(value: string): string {
  const safe = neutraliseCell(value);
  return NEEDS_QUOTES.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** One CSV line with its CRLF terminator (RFC 4180). */
export function csvLine(cells: readonly string[]): string {
  let line = '';
  for (let i = 0; i < cells.length; i++) {
    if (i > 0) line += ',';
    line += csvCell(cells[i] as string);
  }
  return `${line}\r\n`;
}

/** `1,000,000`: limits and counts written for people. */
export function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}
