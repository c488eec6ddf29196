import { readFileSync } from 'node:fs';
import {
  findOperator,
  OPERATOR_CATEGORIES,
  type Paise,
  ProviderNotEnabledError,
  parseRupees,
} from '@rechargeflow/domain';
import { type OwnedExtension, providerRegistry } from '@rechargeflow/providers';
import { z } from 'zod';
import { enabledRoute } from './enabled-route.ts';
import { parseJsonWithPosition } from './json-error.ts';
import { RoutingTableError } from './routing-table-error.ts';

export { RoutingTableError };

/**
 * The request extensions of the provider registry: each is an operator code (TELGOO5) whose orders
 * only its provider (telgoo5) can take, and that provider takes no other orders. Every other
 * provider takes the orders of the A1Topup operator catalogue.
 */
const EXTENSIONS: readonly OwnedExtension[] = providerRegistry.extensions;
const extensionOf = (operator: string) => EXTENSIONS.find((e) => e.operator === operator);

/**
 * What a rule's `services` may name: an operator category, or an extension's field for its
 * operator's orders (`telgoo5` for TELGOO5 orders).
 */
export const ROUTE_SERVICES = [...OPERATOR_CATEGORIES, ...EXTENSIONS.map((e) => e.field)] as [
  string,
  ...string[],
];
export type RouteService = (typeof ROUTE_SERVICES)[number];

/** Bounds on the table itself (docs/product.md, rule 6: bounded everything). */
export const MAX_ROUTES_PER_RULE = 5;
export const MAX_RULES = 200;
export const MAX_TABLE_BYTES = 256 * 1024;

const providerListSchema = z
  .array(z.string().trim().min(1, 'must be a provider name'))
  .min(1, `must list 1 to ${MAX_ROUTES_PER_RULE} providers`)
  .max(MAX_ROUTES_PER_RULE, `must list 1 to ${MAX_ROUTES_PER_RULE} providers`);

const amountSchema = z
  .number({ error: 'must be an amount in rupees (dollars for TELGOO5), e.g. 100 or 99.50' })
  .nonnegative({ error: 'must not be negative', abort: true })
  .refine((value) => parseRupees(value) !== null, 'must be an amount with at most two decimals, e.g. 99.50');

const ruleSchema = z.strictObject({
  /** Operator codes, any case. */
  operators: z
    .array(z.string().trim().min(1, 'must be an operator code'))
    .min(1, 'must not be empty; leave it out to match every operator')
    .optional(),
  services: z
    .array(z.enum(ROUTE_SERVICES))
    .min(1, 'must not be empty; leave it out to match every service')
    .optional(),
  /** Inclusive, in rupees (dollars for TELGOO5). */
  minAmount: amountSchema.optional(),
  maxAmount: amountSchema.optional(),
  providers: providerListSchema,
});

/** The table as written (JSON): first matching rule wins, `default` when none matches. */
export const routingTableSchema = z.strictObject({
  rules: z.array(ruleSchema).max(MAX_RULES, `must have at most ${MAX_RULES} rules`),
  default: providerListSchema,
});
export type RoutingTableInput = z.input<typeof routingTableSchema>;

/** One parsed rule. Absent conditions match everything; amounts are minor units (paise or cents). */
export interface RoutingRule {
  /** Upper-case operator codes. */
  readonly operators?: readonly string[];
  readonly services?: readonly RouteService[];
  /** Inclusive lower bound in minor units (the table gives rupees/dollars). */
  readonly minAmount?: Paise;
  /** Inclusive upper bound in minor units. */
  readonly maxAmount?: Paise;
  readonly providers: readonly string[];
}

export interface RoutingTable {
  readonly rules: readonly RoutingRule[];
  readonly default: readonly string[];
  /**
   * The providers enabled where the table was loaded (PROVIDERS): `routeFor` keeps every route to
   * them. Absent (a table only parsed, DEFAULT_ROUTING_TABLE itself): routes as the table says.
   */
  readonly enabled?: readonly string[];
}

/** Each extension's orders to its provider (TELGOO5 orders to telgoo5); every A1Topup operator to a1topup. */
export const DEFAULT_ROUTING_TABLE: RoutingTable = Object.freeze({
  rules: Object.freeze(
    EXTENSIONS.map((e) =>
      Object.freeze({ operators: Object.freeze([e.operator]), providers: Object.freeze([e.provider]) }),
    ),
  ),
  default: Object.freeze([providerRegistry.defaultProvider]),
});

type Path = readonly (string | number | symbol)[];

function formatPath(base: string, path: Path): string {
  let out = base;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(table)' : out;
}

function zodProblems(base: string, error: z.ZodError): string[] {
  return error.issues.map((issue) => `${formatPath(base, issue.path)}: ${issue.message}`);
}

/** Which service an operator is matched as: its catalogue category, or its extension (`telgoo5`). */
export function routeServiceOf(operator: string): RouteService | undefined {
  const code = operator.trim().toUpperCase();
  return extensionOf(code)?.field ?? findOperator(code)?.category;
}

/** Inclusive range of minor units. */
type Interval = readonly [low: number, high: number];

/** Why a rule's operators and services match an extension's orders, e.g. TELGOO5's (amounts aside), or `null`. */
function extensionReason(rule: RoutingRule, extension: OwnedExtension): string | null {
  if (rule.operators !== undefined)
    return rule.operators.includes(extension.operator) ? `it names ${extension.operator}` : null;
  if (rule.services !== undefined)
    return rule.services.includes(extension.field) ? `its services include ${extension.field}` : null;
  return `it names no operators or services, so it matches ${extension.operator} too`;
}

/** The extension's amounts a rule's range admits, or `null` when none of its orders fits it. */
function extensionAmounts(rule: RoutingRule, extension: OwnedExtension): Interval | null {
  const low = Math.max(rule.minAmount ?? 0, extension.amountBounds.min);
  const high = Math.min(rule.maxAmount ?? Number.MAX_SAFE_INTEGER, extension.amountBounds.max);
  return low <= high ? [low, high] : null;
}

/** Whether the union of `taken` covers every whole amount in `range`. */
function covers(taken: readonly Interval[], range: Interval): boolean {
  let next = range[0];
  for (const [low, high] of [...taken].sort((a, b) => a[0] - b[0])) {
    if (low > next) break;
    next = Math.max(next, high + 1);
    if (next > range[1]) return true;
  }
  return next > range[1];
}

/** Why a rule can receive orders for A1Topup operators, or `null` when it cannot. */
function a1topupReason(rule: RoutingRule): string | null {
  if (rule.operators !== undefined) {
    const codes = rule.operators.filter((code) => extensionOf(code) === undefined);
    return codes.length === 0 ? null : `it names ${codes.join(', ')}`;
  }
  if (rule.services !== undefined) {
    const services = rule.services.filter((service) => !EXTENSIONS.some((e) => e.field === service));
    return services.length === 0 ? null : `its services include ${services.join(', ')}`;
  }
  return 'it names no operators or services, so it matches A1Topup operators too';
}

function isKnown(name: string, known: readonly string[]): boolean {
  return known.some((k) => k.toLowerCase() === name.toLowerCase());
}

/** Resolves provider names against the known ones (any case), naming unknown and repeated ones. */
function checkProviders(
  place: string,
  names: readonly string[],
  known: readonly string[],
  problems: string[],
): string[] {
  const seen = new Set<string>();
  const resolved: string[] = [];
  names.forEach((name, index) => {
    const match = known.find((k) => k.toLowerCase() === name.toLowerCase());
    if (match === undefined) {
      problems.push(`${place}[${index}]: unknown provider "${name}" (known: ${known.join(', ')})`);
      return;
    }
    if (seen.has(match)) {
      problems.push(`${place}[${index}]: provider "${match}" is listed more than once`);
      return;
    }
    seen.add(match);
    resolved.push(match);
  });
  return resolved;
}

function checkRule(
  index: number,
  raw: z.output<typeof ruleSchema>,
  known: readonly string[],
  problems: string[],
  extensionTaken: Map<string, Interval[]>,
): RoutingRule {
  const place = `rules[${index}]`;
  let operators: string[] | undefined;
  if (raw.operators !== undefined) {
    operators = [];
    raw.operators.forEach((text, j) => {
      const code = text.toUpperCase();
      if (extensionOf(code) === undefined && findOperator(code) === undefined) {
        problems.push(`${place}.operators[${j}]: unknown operator code "${text}"`);
      } else if (!operators!.includes(code)) operators!.push(code);
    });
  }
  if (raw.minAmount !== undefined && raw.maxAmount !== undefined && raw.minAmount > raw.maxAmount) {
    problems.push(`${place}: minAmount ${raw.minAmount} is greater than maxAmount ${raw.maxAmount}`);
  }
  const providers = checkProviders(`${place}.providers`, raw.providers, known, problems);
  const rule: RoutingRule = {
    ...(operators !== undefined ? { operators } : {}),
    ...(raw.services !== undefined ? { services: [...new Set(raw.services)] } : {}),
    ...(raw.minAmount !== undefined ? { minAmount: parseRupees(raw.minAmount)! } : {}),
    ...(raw.maxAmount !== undefined ? { maxAmount: parseRupees(raw.maxAmount)! } : {}),
    providers,
  };

  // An extension's orders (Telgoo5's: an enrollment and a payment token only Telgoo5 understands)
  // go to its provider only, and that provider's API has no A1Topup operator codes: neither kind
  // of order can be sent to the other. First match wins: an extension's order only reaches this
  // rule for amounts no earlier rule takes.
  const matched = EXTENSIONS.flatMap((extension) => {
    const conditions = extensionReason(rule, extension);
    const range = conditions === null ? null : extensionAmounts(rule, extension);
    const taken = extensionTaken.get(extension.operator) ?? [];
    const reason = range === null || covers(taken, range) ? null : conditions;
    if (range !== null) extensionTaken.set(extension.operator, [...taken, range]);
    return reason === null ? [] : [{ extension, reason }];
  });
  const a1topup = a1topupReason(rule);
  raw.providers.forEach((name, j) => {
    if (!isKnown(name, known)) return; // already reported as unknown
    const lower = name.toLowerCase();
    for (const { extension, reason } of matched) {
      if (lower !== extension.provider) {
        problems.push(
          `${place}.providers[${j}]: "${name}" cannot take ${extension.operator} orders (only ${extension.provider} can), and this rule matches them: ${reason}`,
        );
      }
    }
    const owned = EXTENSIONS.find((e) => e.provider === lower);
    if (a1topup !== null && owned !== undefined) {
      problems.push(
        `${place}.providers[${j}]: "${name}" cannot take orders for A1Topup operators, and this rule matches them: ${a1topup}; give ${owned.operator} a rule of its own`,
      );
    }
  });
  return rule;
}

/**
 * Parses and checks a routing table (JSON text) against the providers known to it.
 * Throws a RoutingTableError naming every problem with its place, e.g.
 * `rules[2].providers[0]: unknown provider "foo" (known: a1topup, telgoo5)`.
 */
export function parseRoutingTable(
  text: string,
  knownProviders: readonly string[],
  source = 'routing table',
): RoutingTable {
  if (Buffer.byteLength(text, 'utf8') > MAX_TABLE_BYTES) {
    throw new RoutingTableError(source, [`(table): is larger than ${MAX_TABLE_BYTES} bytes`]);
  }
  let json: unknown;
  try {
    json = parseJsonWithPosition(text);
  } catch (error) {
    throw new RoutingTableError(source, [`(table): ${(error as Error).message}`]);
  }

  // Shape first at the top, then each rule on its own, so one bad rule does not hide the others.
  const top = z
    .strictObject({
      rules: z.array(z.unknown()).max(MAX_RULES, `must have at most ${MAX_RULES} rules`),
      default: z.unknown(),
    })
    .safeParse(json);
  if (!top.success) throw new RoutingTableError(source, zodProblems('', top.error));

  const problems: string[] = [];
  const rules: RoutingRule[] = [];
  const extensionTaken = new Map<string, Interval[]>();
  top.data.rules.forEach((rawRule, index) => {
    const parsed = ruleSchema.safeParse(rawRule);
    if (!parsed.success) problems.push(...zodProblems(`rules[${index}]`, parsed.error));
    else rules.push(checkRule(index, parsed.data, knownProviders, problems, extensionTaken));
  });

  let defaultProviders: string[] = [];
  const parsedDefault = providerListSchema.safeParse(top.data.default);
  if (!parsedDefault.success) problems.push(...zodProblems('default', parsedDefault.error));
  else {
    defaultProviders = checkProviders('default', parsedDefault.data, knownProviders, problems);
    parsedDefault.data.forEach((name, j) => {
      const owned = EXTENSIONS.find((e) => e.provider === name.toLowerCase());
      if (owned !== undefined && isKnown(name, knownProviders)) {
        problems.push(
          `default[${j}]: "${name}" cannot take orders for A1Topup operators, and the default receives every order no rule matches; route ${owned.operator} with a rule instead`,
        );
      }
    });
  }

  if (problems.length > 0) throw new RoutingTableError(source, problems);
  return { rules, default: defaultProviders };
}

export interface RoutingTableSource {
  /** `ROUTING_TABLE`: the table as JSON text. */
  readonly env?: string | undefined;
  /** `ROUTING_TABLE_FILE`: path to a JSON file; wins over `env`. */
  readonly file?: string | undefined;
}

/**
 * The routing table from `ROUTING_TABLE_FILE` (wins) or `ROUTING_TABLE`; `DEFAULT_ROUTING_TABLE`
 * when neither is set (empty counts as unset). A table may name any provider of the registry (one
 * table serves deployments with different PROVIDERS); whichever it is, it keeps `enabledProviders`
 * (this deployment's PROVIDERS), so that `routeFor` never hands an order to a provider nobody runs
 * here - the default table, too, names telgoo5 and a1topup whatever PROVIDERS says.
 * Reads synchronously: it runs once, at start-up.
 */
export function loadRoutingTable(
  source: RoutingTableSource,
  enabledProviders: readonly string[],
): RoutingTable {
  const enabled = [...enabledProviders];
  const known = [...new Set([...providerRegistry.names, ...enabled])];
  return { ...readRoutingTable(source, known), enabled };
}

function readRoutingTable(source: RoutingTableSource, knownProviders: readonly string[]): RoutingTable {
  const file = source.file?.trim();
  if (file) {
    const where = `ROUTING_TABLE_FILE ${file}`;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new RoutingTableError(where, [`(file): cannot be read (${code})`]);
    }
    return parseRoutingTable(text, knownProviders, where);
  }
  if (source.env !== undefined && source.env.trim() !== '') {
    return parseRoutingTable(source.env, knownProviders, 'ROUTING_TABLE');
  }
  return DEFAULT_ROUTING_TABLE;
}

export interface RouteRequest {
  /** Operator code, any case. */
  readonly operator: string;
  /** Minor units: paise, or cents for TELGOO5. */
  readonly amount: Paise;
}

function matches(
  rule: RoutingRule,
  operator: string,
  service: RouteService | undefined,
  amount: number,
): boolean {
  if (rule.operators !== undefined && !rule.operators.includes(operator)) return false;
  if (rule.services !== undefined && (service === undefined || !rule.services.includes(service)))
    return false;
  if (rule.minAmount !== undefined && amount < rule.minAmount) return false;
  if (rule.maxAmount !== undefined && amount > rule.maxAmount) return false;
  return true;
}

/**
 * The providers to try for an order, in order: the first matching rule's, else the default's.
 * A TELGOO5 order (an extension's) no rule matches goes to telgoo5 (its provider), never to the
 * default (which parsing keeps free of extension providers, so it could only be a provider that
 * cannot take the order).
 * Only the table's `enabled` providers stay in the route (the API and the CSV import both route
 * here, so neither can accept an order nothing will process); when none of the route's is enabled,
 * throws ProviderNotEnabledError (the API's `422`, a CSV row's error), before anything is written.
 */
export function routeFor(table: RoutingTable, request: RouteRequest): readonly string[] {
  const operator = request.operator.trim().toUpperCase();
  const route = tableRoute(table, operator, request.amount);
  if (table.enabled === undefined) return route;
  const kept = enabledRoute(route, table.enabled);
  if (!kept.ok) throw new ProviderNotEnabledError(operator, kept.named, kept.enabled);
  return kept.route;
}

/** The route the table names for an order (upper-case operator), whatever is enabled. */
function tableRoute(table: RoutingTable, operator: string, amount: number): readonly string[] {
  const service = routeServiceOf(operator);
  for (const rule of table.rules) {
    if (matches(rule, operator, service, amount)) return rule.providers;
  }
  const extension = extensionOf(operator);
  return extension ? [extension.provider] : table.default;
}
