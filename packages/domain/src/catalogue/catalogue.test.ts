import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { CIRCLES, findCircle, lookupCircle } from './circles.ts';
import { findOperator, findOperatorRows, OPERATORS, type OperatorCategory } from './operators.ts';

const SEED = '000_10c5686241456ef3.txt';

/** The repository root is the first folder above this file that holds pnpm-workspace.yaml. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'pnpm-workspace.yaml'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no pnpm-workspace.yaml above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

/**
 * Where shared/ may be: beside this clone, or beside the checkout it was cloned from (a clone of a
 * local checkout made elsewhere, e.g. in /tmp).
 */
function seedCandidates(): string[] {
  const root = repoRoot();
  const candidates = [resolve(root, '..', 'shared', 'seeds', SEED)];
  const origin = spawnSync('git', ['config', '--get', 'remote.origin.url'], { cwd: root, encoding: 'utf8' });
  const url = origin.status === 0 ? origin.stdout.trim() : '';
  if (url.startsWith('/')) candidates.push(resolve(url, '..', 'shared', 'seeds', SEED));
  return candidates;
}

function readSeed(): string {
  const candidates = seedCandidates();
  const path = candidates.find((candidate) => existsSync(candidate));
  if (!path) {
    throw new Error(
      `The A1Topup API document is missing: expected it at ${candidates.join(' or ')} (shared/ beside the repository clone). ` +
        'The operator and circle catalogue is checked against it and cannot be tested without it.',
    );
  }
  return readFileSync(path, 'utf8');
}

/** Tab-separated rows between the header line and the first line matching `end`, blank lines skipped. */
function tableRows(text: string, header: string, end: RegExp): string[][] {
  const lines = text.split(/\r?\n/);
  const start = lines.indexOf(header);
  if (start < 0) throw new Error(`table header "${header}" not found in ${SEED}`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 1)) {
    if (end.test(line)) break;
    if (line.trim() === '') continue;
    rows.push(line.split('\t'));
  }
  return rows;
}

let operatorRows: string[][] = [];
let circleRows: string[][] = [];

beforeAll(() => {
  const text = readSeed();
  operatorRows = tableRows(text, 'Operator Name\tOperator code\tService', /^Circle Code\s*$/);
  circleRows = tableRows(text, 'State\tcircle code', /^--\s*$/);
});

describe('operator catalogue against the A1Topup document', () => {
  it('has every row of the operator table, in document order, with name, code and service', () => {
    expect(operatorRows.length).toBeGreaterThan(100);
    const fromDocument = operatorRows.map((cells) => {
      expect(cells, `row ${cells.join(' | ')}`).toHaveLength(3);
      const [name = '', code = '', service = ''] = cells;
      return { name, code, service: service === '' ? null : service };
    });
    const fromCatalogue = OPERATORS.map(({ name, code, service }) => ({ name, code, service }));
    expect(fromCatalogue).toEqual(fromDocument);
    expect(OPERATORS).toHaveLength(operatorRows.length);
  });

  it('keeps the document spellings that look wrong', () => {
    expect(findOperator('UHBV')?.name).toBe('UttarHaryanaBijliVitr\u0627\u0646Nigam');
    expect(findOperator('MTT')?.name).toBe('MTNL \u2013 TOPUP');
    expect(findOperator('UPPCLR')?.name).toBe('Uttar Pradesh Power Corporation Limited(Rular)');
  });

  it('keeps both MPPKVCLPU rows; lookup by code returns the first', () => {
    expect(findOperatorRows('MPPKVCLPU').map((o) => o.name)).toEqual([
      'MP Poorv Kshetra Vidyut Vitaran - Jabalpur',
      'MP Poorv Kshetra Vidyut Vitaran - Rular',
    ]);
    expect(findOperator('MPPKVCLPU')?.name).toBe('MP Poorv Kshetra Vidyut Vitaran - Jabalpur');
    const codes = OPERATORS.map((o) => o.code);
    expect(codes.filter((code, i) => codes.indexOf(code) !== i)).toEqual(['MPPKVCLPU']);
  });

  it('finds operators by code case-insensitively, ignoring surrounding spaces', () => {
    expect(findOperator(' atv ')?.name).toBe('Airtel Digital DTH TV');
    expect(findOperator('msedcl')?.code).toBe('MSEDCL');
    expect(findOperator('a')?.name).toBe('Airtel');
    expect(findOperator('Airtel')).toBeUndefined();
    expect(findOperator('')).toBeUndefined();
    expect(findOperatorRows('nope')).toEqual([]);
  });

  it('derives each category from service, code and name', () => {
    const byService: Record<string, OperatorCategory> = {
      Mobile: 'mobile',
      DTH: 'dth',
      Electricity: 'electricity',
      Gas: 'gas',
      Insurance: 'insurance',
      'Money Transfer': 'money_transfer',
      'Data Card': 'data_card',
    };
    for (const operator of OPERATORS) {
      const expected = operator.service === null ? undefined : byService[operator.service];
      if (expected !== undefined) expect(operator.category, operator.code).toBe(expected);
    }
    const codesOf = (category: OperatorCategory) =>
      OPERATORS.filter((o) => o.category === category).map((o) => o.code);
    expect(codesOf('landline')).toEqual(['LBS', 'LMT', 'LAT']);
    expect(codesOf('postpaid_mobile')).toEqual(['PAT', 'IP', 'VP', 'DP', 'BP', 'JPP']);
    expect(codesOf('fastag')).toEqual([
      'JKF',
      'KMF',
      'INDF',
      'IHMCF',
      'IFF',
      'ICF',
      'HDF',
      'EFF',
      'BBF',
      'AXF',
      'FDF',
      'PTF',
      'IBF',
      'SBF',
    ]);
    expect(codesOf('other')).toEqual(['PMF', 'APB', 'GLF']);
    expect(OPERATORS.filter((o) => o.service === null && o.category === 'mobile').map((o) => o.code)).toEqual(
      ['BS', 'MTR', 'MTT', 'RI'],
    );
  });
});

describe('circle table against the A1Topup document', () => {
  it('has every row of the circle table, in document order, with the blank codes as null', () => {
    expect(circleRows.length).toBeGreaterThan(30);
    const fromDocument = circleRows.map(([name = '', code = '']) => ({
      name,
      code: code === '' ? null : code,
    }));
    expect(CIRCLES.map(({ name, code }) => ({ name, code }))).toEqual(fromDocument);
    expect(CIRCLES).toHaveLength(circleRows.length);
  });

  it('has unique codes and unique names', () => {
    const codes = CIRCLES.flatMap((c) => (c.code === null ? [] : [c.code]));
    expect(new Set(codes).size).toBe(codes.length);
    const names = CIRCLES.map((c) => c.name.toLowerCase());
    expect(new Set(names).size).toBe(names.length);
  });

  it('finds a circle by code or by state name, case-insensitively', () => {
    expect(findCircle('5')).toEqual({ name: 'Delhi', code: '5' });
    expect(findCircle(' 5 ')?.name).toBe('Delhi');
    expect(findCircle('maharashtra')?.code).toBe('4');
    expect(findCircle('chennai')?.code).toBe('7');
    expect(findCircle('TAMIL   nadu')?.code).toBe('8');
    expect(findCircle('Uttar Pradesh West')?.code).toBe('11');
  });

  it('does not return a circle the document lists without a code, but lookupCircle still knows it', () => {
    expect(findCircle('Goa')).toBeUndefined();
    expect(findCircle('new delhi')).toBeUndefined();
    expect(lookupCircle('new delhi')).toEqual({ name: 'New Delhi', code: null });
  });

  it('returns nothing for an unknown circle', () => {
    expect(findCircle('99')).toBeUndefined();
    expect(findCircle('15')).toBeUndefined();
    expect(findCircle('Atlantis')).toBeUndefined();
    expect(findCircle('')).toBeUndefined();
    expect(lookupCircle('   ')).toBeUndefined();
  });
});
