import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Paise, ProviderNotEnabledError, paise } from '@rechargeflow/domain';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_ROUTING_TABLE,
  loadRoutingTable,
  parseRoutingTable,
  type RoutingTable,
  RoutingTableError,
  routeFor,
} from './routing-table.ts';

const KNOWN = ['a1topup', 'telgoo5', 'backup'] as const;

function problemsOf(table: unknown, known: readonly string[] = KNOWN): readonly string[] {
  const text = typeof table === 'string' ? table : JSON.stringify(table);
  try {
    parseRoutingTable(text, known);
  } catch (error) {
    expect(error).toBeInstanceOf(RoutingTableError);
    return (error as RoutingTableError).problems;
  }
  throw new Error('expected the table to be refused');
}

const rupees = (value: number): Paise => paise(Math.round(value * 100));

describe('parseRoutingTable: refused tables name each problem and its place', () => {
  it('unknown provider, with the known ones listed, in the message itself', () => {
    const text = JSON.stringify({
      rules: [
        { operators: ['A'], providers: ['a1topup'] },
        { services: ['dth'], providers: ['a1topup'] },
        { operators: ['V'], providers: ['foo', 'a1topup'] },
      ],
      default: ['a1topup'],
    });
    expect(() => parseRoutingTable(text, ['a1topup', 'telgoo5'])).toThrow(
      'rules[2].providers[0]: unknown provider "foo" (known: a1topup, telgoo5)',
    );
    expect(problemsOf({ rules: [], default: ['nope'] }, ['a1topup', 'telgoo5'])).toEqual([
      'default[0]: unknown provider "nope" (known: a1topup, telgoo5)',
    ]);
  });

  it('bad JSON, with line, column and position', () => {
    expect(problemsOf('{"rules": [,], "default": []}')).toEqual([
      "(table): not valid JSON: Unexpected token ',' at line 1 column 12 (position 11)",
    ]);
    const [problem] = problemsOf('{\n  "rules": [],\n  "default": ["a1topup"]\n');
    expect(problem).toMatch(/^\(table\): not valid JSON: .* at line 4 column 1 \(position 42\)$/);
    expect(problemsOf('')[0]).toMatch(/not valid JSON: Unexpected end of input at line 1 column 1/);
  });

  it('minAmount greater than maxAmount', () => {
    expect(
      problemsOf({
        rules: [{ minAmount: 500, maxAmount: 99.5, providers: ['a1topup'] }],
        default: ['a1topup'],
      }),
    ).toEqual(['rules[0]: minAmount 500 is greater than maxAmount 99.5']);
  });

  it('unknown operator codes, but TELGOO5 in any case is known', () => {
    expect(
      problemsOf({
        rules: [
          { operators: ['A', 'NOPE', 'atv'], providers: ['a1topup'] },
          { operators: ['telgoo5'], providers: ['telgoo5'] },
          { operators: ['xx'], providers: ['backup'] },
        ],
        default: ['a1topup'],
      }),
    ).toEqual([
      'rules[0].operators[1]: unknown operator code "NOPE"',
      'rules[2].operators[0]: unknown operator code "xx"',
    ]);
  });

  it('a rule that matches TELGOO5 may list telgoo5 only', () => {
    expect(
      problemsOf({
        rules: [{ operators: ['TELGOO5'], providers: ['telgoo5', 'backup'] }],
        default: ['a1topup'],
      }),
    ).toEqual([
      'rules[0].providers[1]: "backup" cannot take TELGOO5 orders (only telgoo5 can), and this rule matches them: it names TELGOO5',
    ]);
    expect(
      problemsOf({ rules: [{ services: ['telgoo5'], providers: ['a1topup'] }], default: ['a1topup'] }),
    ).toEqual([
      'rules[0].providers[0]: "a1topup" cannot take TELGOO5 orders (only telgoo5 can), and this rule matches them: its services include telgoo5',
    ]);
    // No operators or services: it catches TELGOO5 orders in its amount range too.
    expect(problemsOf({ rules: [{ maxAmount: 100, providers: ['a1topup'] }], default: ['a1topup'] })).toEqual(
      [
        'rules[0].providers[0]: "a1topup" cannot take TELGOO5 orders (only telgoo5 can), and this rule matches them: it names no operators or services, so it matches TELGOO5 too',
      ],
    );
  });

  it('a catch-all rule is fine where no TELGOO5 order can reach it', () => {
    // Above the largest TELGOO5 amount (500 dollars).
    expect(() =>
      parseRoutingTable(
        JSON.stringify({ rules: [{ minAmount: 500.01, providers: ['a1topup'] }], default: ['a1topup'] }),
        KNOWN,
      ),
    ).not.toThrow();
    // An earlier rule takes every TELGOO5 order (first match wins).
    const shadowed = {
      rules: [
        { operators: ['TELGOO5'], maxAmount: 100, providers: ['telgoo5'] },
        { services: ['telgoo5'], minAmount: 100.01, providers: ['telgoo5'] },
        { maxAmount: 1000, providers: ['backup', 'a1topup'] },
      ],
      default: ['a1topup'],
    };
    expect(() => parseRoutingTable(JSON.stringify(shadowed), KNOWN)).not.toThrow();
    // A gap of one cent between the earlier ranges lets TELGOO5 orders through.
    const gap = structuredClone(shadowed);
    gap.rules[1]!.minAmount = 100.02;
    expect(problemsOf(gap)).toHaveLength(2);
  });

  it('a rule or the default that serves A1Topup operators may not list telgoo5', () => {
    expect(
      problemsOf({
        rules: [
          // Leaves TELGOO5 orders above 100 dollars to the next rule.
          { operators: ['TELGOO5', 'A'], maxAmount: 100, providers: ['telgoo5'] },
          { services: ['mobile', 'telgoo5'], providers: ['a1topup', 'telgoo5'] },
        ],
        default: ['a1topup', 'telgoo5'],
      }),
    ).toEqual([
      'rules[0].providers[0]: "telgoo5" cannot take orders for A1Topup operators, and this rule matches them: it names A; give TELGOO5 a rule of its own',
      'rules[1].providers[0]: "a1topup" cannot take TELGOO5 orders (only telgoo5 can), and this rule matches them: its services include telgoo5',
      'rules[1].providers[1]: "telgoo5" cannot take orders for A1Topup operators, and this rule matches them: its services include mobile; give TELGOO5 a rule of its own',
      'default[1]: "telgoo5" cannot take orders for A1Topup operators, and the default receives every order no rule matches; route TELGOO5 with a rule instead',
    ]);
  });

  it('shape: provider count, repeats, unknown keys, services, amounts, every rule at once', () => {
    expect(
      problemsOf({
        rules: [
          { providers: [] },
          { operators: ['A'], providers: ['a1topup', 'backup', 'a1topup', 'b', 'c', 'd'] },
          { operators: ['A'], provider: ['a1topup'] },
          { services: ['mobile', 'radio'], providers: ['a1topup'] },
          { operators: ['A'], minAmount: 10.005, maxAmount: -1, providers: ['a1topup'] },
          { operators: ['A'], minAmount: '10', providers: ['a1topup'] },
          { operators: [], services: [], providers: ['a1topup'] },
          { operators: ['A'], providers: ['A1TOPUP', 'a1topup'] },
        ],
        default: [],
      }),
    ).toEqual([
      'rules[0].providers: must list 1 to 5 providers',
      'rules[1].providers: must list 1 to 5 providers',
      'rules[2].providers: Invalid input: expected array, received undefined',
      'rules[2]: Unrecognized key: "provider"',
      'rules[3].services[1]: Invalid option: expected one of "mobile"|"postpaid_mobile"|"landline"|"dth"|"electricity"|"gas"|"insurance"|"money_transfer"|"data_card"|"fastag"|"other"|"telgoo5"',
      'rules[4].minAmount: must be an amount with at most two decimals, e.g. 99.50',
      'rules[4].maxAmount: must not be negative',
      'rules[5].minAmount: must be an amount in rupees (dollars for TELGOO5), e.g. 100 or 99.50',
      'rules[6].operators: must not be empty; leave it out to match every operator',
      'rules[6].services: must not be empty; leave it out to match every service',
      'rules[7].providers[1]: provider "a1topup" is listed more than once',
      'default: must list 1 to 5 providers',
    ]);
    expect(problemsOf({ rules: {}, default: ['a1topup'], extra: 1 })).toEqual([
      'rules: Invalid input: expected array, received object',
      '(table): Unrecognized key: "extra"',
    ]);
    expect(problemsOf('[]')).toEqual(['(table): Invalid input: expected object, received array']);
  });

  it('normalises operator codes and provider names to their catalogue spelling', () => {
    const table = parseRoutingTable(
      JSON.stringify({
        rules: [{ operators: [' atv ', 'ATV', 'a'], minAmount: 10.5, maxAmount: 20, providers: ['A1Topup'] }],
        default: ['BACKUP', 'a1topup'],
      }),
      KNOWN,
    );
    expect(table).toEqual({
      rules: [{ operators: ['ATV', 'A'], minAmount: 1050, maxAmount: 2000, providers: ['a1topup'] }],
      default: ['backup', 'a1topup'],
    });
  });

  it('the default table passes its own checks', () => {
    const text = JSON.stringify(DEFAULT_ROUTING_TABLE);
    expect(parseRoutingTable(text, ['a1topup', 'telgoo5'])).toEqual(DEFAULT_ROUTING_TABLE);
  });
});

describe('loadRoutingTable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rf-routing-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const fileTable = { rules: [], default: ['backup'] };
  const envTable = JSON.stringify({ rules: [], default: ['a1topup', 'backup'] });

  it('prefers the file over the env text', () => {
    const file = join(dir, 'routes.json');
    writeFileSync(file, JSON.stringify(fileTable));
    expect(loadRoutingTable({ env: envTable, file }, KNOWN)).toEqual({ ...fileTable, enabled: KNOWN });
  });

  it('uses the env text when no file is given, and the default when neither is (empty counts as unset)', () => {
    expect(loadRoutingTable({ env: envTable }, KNOWN).default).toEqual(['a1topup', 'backup']);
    expect(loadRoutingTable({ env: envTable, file: '  ' }, KNOWN).default).toEqual(['a1topup', 'backup']);
    expect(loadRoutingTable({}, KNOWN)).toEqual({ ...DEFAULT_ROUTING_TABLE, enabled: KNOWN });
    expect(loadRoutingTable({ env: '', file: '' }, KNOWN)).toEqual({
      ...DEFAULT_ROUTING_TABLE,
      enabled: KNOWN,
    });
  });

  it('names the file in its errors, and an unreadable file', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ rules: [], default: ['foo'] }));
    expect(() => loadRoutingTable({ env: envTable, file: bad }, KNOWN)).toThrow(
      `invalid routing table (ROUTING_TABLE_FILE ${bad}):\n  - default[0]: unknown provider "foo" (known: a1topup, a1topup_backup, telgoo5, backup)`,
    );
    const missing = join(dir, 'missing.json');
    expect(() => loadRoutingTable({ file: missing }, KNOWN)).toThrow(
      `invalid routing table (ROUTING_TABLE_FILE ${missing}):\n  - (file): cannot be read (ENOENT)`,
    );
    expect(() => loadRoutingTable({ env: '{' }, KNOWN)).toThrow(/^invalid routing table \(ROUTING_TABLE\):/);
  });
});

describe('routeFor', () => {
  const table: RoutingTable = parseRoutingTable(
    JSON.stringify({
      rules: [
        { operators: ['TELGOO5'], minAmount: 50, providers: ['telgoo5'] },
        { operators: ['A'], minAmount: 100, maxAmount: 199.99, providers: ['backup', 'a1topup'] },
        { operators: ['A', 'V'], providers: ['a1topup', 'backup'] },
        { services: ['dth', 'electricity'], maxAmount: 500, providers: ['backup'] },
        { services: ['mobile'], providers: ['a1topup'] },
      ],
      default: ['a1topup'],
    }),
    KNOWN,
  );

  it('matches by operator code, in any case', () => {
    expect(routeFor(table, { operator: 'v', amount: rupees(10) })).toEqual(['a1topup', 'backup']);
  });

  it('keeps to the inclusive amount range, to the paisa', () => {
    expect(routeFor(table, { operator: 'A', amount: rupees(99.99) })).toEqual(['a1topup', 'backup']);
    expect(routeFor(table, { operator: 'A', amount: rupees(100) })).toEqual(['backup', 'a1topup']);
    expect(routeFor(table, { operator: 'A', amount: rupees(199.99) })).toEqual(['backup', 'a1topup']);
    expect(routeFor(table, { operator: 'A', amount: rupees(200) })).toEqual(['a1topup', 'backup']);
  });

  it('matches by service from the operator catalogue', () => {
    expect(routeFor(table, { operator: 'ATV', amount: rupees(500) })).toEqual(['backup']);
    expect(routeFor(table, { operator: 'BSES', amount: rupees(300) })).toEqual(['backup']);
    expect(routeFor(table, { operator: 'ATV', amount: rupees(500.01) })).toEqual(['a1topup']);
    // Jio is mobile and not named by a rule: the mobile rule.
    expect(routeFor(table, { operator: 'RC', amount: rupees(10) })).toEqual(['a1topup']);
  });

  it('first match wins', () => {
    // A at 150 matches rules 1, 2 and 4; rule 1 wins.
    expect(routeFor(table, { operator: 'A', amount: rupees(150) })).toEqual(['backup', 'a1topup']);
  });

  it('falls back to the default, and never sends TELGOO5 there', () => {
    expect(routeFor(table, { operator: 'PAT', amount: rupees(10) })).toEqual(['a1topup']);
    expect(routeFor(table, { operator: 'UNKNOWN', amount: rupees(10) })).toEqual(['a1topup']);
    expect(routeFor(table, { operator: 'telgoo5', amount: rupees(50) })).toEqual(['telgoo5']);
    // Below the TELGOO5 rule's range: no rule matches, still telgoo5.
    expect(routeFor(table, { operator: 'TELGOO5', amount: rupees(10) })).toEqual(['telgoo5']);
  });

  it('the default table: TELGOO5 to telgoo5, everything else to a1topup', () => {
    expect(routeFor(DEFAULT_ROUTING_TABLE, { operator: 'TELGOO5', amount: rupees(20) })).toEqual(['telgoo5']);
    expect(routeFor(DEFAULT_ROUTING_TABLE, { operator: 'ATV', amount: rupees(20) })).toEqual(['a1topup']);
  });
});

describe('routeFor keeps to the providers enabled where the table was loaded (PROVIDERS)', () => {
  const refusal = (table: RoutingTable, operator: string, amount: Paise): ProviderNotEnabledError => {
    try {
      routeFor(table, { operator, amount });
    } catch (error) {
      expect(error).toBeInstanceOf(ProviderNotEnabledError);
      return error as ProviderNotEnabledError;
    }
    throw new Error(`expected ${operator} to be refused`);
  };

  it('the default table with PROVIDERS=a1topup refuses TELGOO5, naming telgoo5 and PROVIDERS', () => {
    const table = loadRoutingTable({}, ['a1topup']);
    expect(routeFor(table, { operator: 'ATV', amount: rupees(20) })).toEqual(['a1topup']);
    const error = refusal(table, ' telgoo5 ', rupees(20));
    expect(error.issues).toEqual([
      {
        field: 'operator',
        rule: 'provider_enabled',
        message: 'TELGOO5 orders go to telgoo5, which is not enabled here (PROVIDERS=a1topup)',
      },
    ]);
    expect(error).toMatchObject({ operator: 'TELGOO5', route: ['telgoo5'], enabled: ['a1topup'] });
  });

  it('the default table with PROVIDERS=telgoo5 takes TELGOO5 and refuses every A1Topup operator', () => {
    const table = loadRoutingTable({ env: ' ' }, ['telgoo5']);
    expect(routeFor(table, { operator: 'TELGOO5', amount: rupees(20) })).toEqual(['telgoo5']);
    expect(refusal(table, 'v', rupees(10)).issues[0]?.message).toBe(
      'V orders go to a1topup, which is not enabled here (PROVIDERS=telgoo5)',
    );
  });

  it("a table's own rules: TELGOO5 matching no rule still goes only to telgoo5, and is refused when it is off", () => {
    const table = loadRoutingTable(
      {
        env: JSON.stringify({
          rules: [{ operators: ['A'], providers: ['backup', 'a1topup'] }],
          default: ['a1topup'],
        }),
      },
      ['a1topup', 'backup'],
    );
    expect(routeFor(table, { operator: 'A', amount: rupees(10) })).toEqual(['backup', 'a1topup']);
    expect(refusal(table, 'TELGOO5', rupees(10)).message).toBe(
      'invalid input: operator: TELGOO5 orders go to telgoo5, which is not enabled here (PROVIDERS=a1topup,backup)',
    );
  });

  it('one table for every deployment: it may name any provider of the registry, and routes keep to PROVIDERS', () => {
    const text = JSON.stringify({
      rules: [
        { operators: ['ATV'], providers: ['a1topup_backup'] },
        { operators: ['A'], providers: ['a1topup_backup', 'a1topup'] },
        { operators: ['TELGOO5'], providers: ['telgoo5'] },
      ],
      default: ['a1topup', 'a1topup_backup'],
    });
    const table = loadRoutingTable({ env: text }, ['a1topup']);
    expect(routeFor(table, { operator: 'A', amount: rupees(10) })).toEqual(['a1topup']);
    expect(routeFor(table, { operator: 'RC', amount: rupees(10) })).toEqual(['a1topup']);
    expect(refusal(table, 'ATV', rupees(300)).issues[0]?.message).toBe(
      'ATV orders go to a1topup_backup, which is not enabled here (PROVIDERS=a1topup)',
    );
    const both = loadRoutingTable({ env: text }, ['a1topup', 'a1topup_backup']);
    expect(routeFor(both, { operator: 'A', amount: rupees(10) })).toEqual(['a1topup_backup', 'a1topup']);
    // A provider neither registered nor enabled is still a start-up error.
    expect(() =>
      loadRoutingTable({ env: text.replace('"a1topup_backup"]', '"nope"]') }, ['a1topup']),
    ).toThrow('rules[0].providers[0]: unknown provider "nope" (known: a1topup, a1topup_backup, telgoo5)');
  });

  it('keeps the enabled providers of a longer route, in its order', () => {
    const table: RoutingTable = {
      rules: [{ operators: ['A'], providers: ['backup', 'a1topup', 'other'] }],
      default: ['backup', 'other'],
      enabled: ['OTHER', 'a1topup'],
    };
    expect(routeFor(table, { operator: 'A', amount: rupees(10) })).toEqual(['a1topup', 'other']);
    expect(routeFor(table, { operator: 'V', amount: rupees(10) })).toEqual(['other']);
    expect(refusal({ ...table, enabled: ['telgoo5'] }, 'A', rupees(10)).issues[0]?.message).toBe(
      'A orders go to backup, a1topup, other, none of which is enabled here (PROVIDERS=telgoo5)',
    );
  });
});
