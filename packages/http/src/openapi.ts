import { ORDER_STATES, RECHARGE_REQUEST_FIELDS } from '@rechargeflow/domain';
import { z } from 'zod';

// JSON schemas used for the OpenAPI document only: requests are validated by our own parsers so
// that every bad field is reported at once in our error format.

/** A zod schema as a JSON schema of the OpenAPI document (3.1: JSON Schema 2020-12), as input. */
function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...document } = z.toJSONSchema(schema, { io: 'input' });
  return document;
}

const issue = {
  type: 'object',
  properties: { field: { type: 'string' }, rule: { type: 'string' }, message: { type: 'string' } },
} as const;

export const errorDoc = {
  type: 'object',
  properties: {
    error: { type: 'string', description: 'machine-readable code' },
    message: { type: 'string' },
    issues: { type: 'array', items: issue },
  },
} as const;

/** The body of `POST /v1/recharges`: the request's fields as the domain defines them. */
export const rechargeBodyDoc = jsonSchemaOf(RECHARGE_REQUEST_FIELDS);

export const orderDoc = {
  type: 'object',
  properties: {
    orderId: { type: 'string' },
    status: { type: 'string', enum: [...ORDER_STATES] },
    operator: { type: 'string' },
    circle: { type: ['string', 'null'] },
    number: { type: 'string' },
    amount: { type: 'number' },
    provider: { type: 'string' },
    providerOrderId: { type: 'string' },
    providerTxId: { type: ['string', 'null'] },
    providerRef: { type: ['string', 'null'] },
    providerStatus: { type: ['string', 'null'] },
    attempts: { type: 'integer' },
    reversal: {
      type: ['object', 'null'],
      description: 'the dispute reversal of a reversed order: amount back in the provider balance',
      properties: {
        amount: { type: 'number' },
        at: { type: 'string', format: 'date-time' },
        providerRef: { type: ['string', 'null'] },
        callbackId: { type: ['string', 'null'] },
      },
    },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    archived: {
      type: 'boolean',
      description:
        'present (true) only on an order read back from the archive: final, older than the retention window, no longer in the ledger',
    },
    history: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          at: { type: 'string' },
          from: { type: ['string', 'null'] },
          to: { type: 'string' },
          source: { type: 'string' },
          note: { type: ['string', 'null'] },
          providerStatus: { type: ['string', 'null'] },
          actor: { type: ['string', 'null'], description: 'who, for operator decisions' },
        },
      },
    },
  },
  examples: [
    {
      orderId: 'demo-1',
      status: 'success',
      operator: 'A',
      circle: '5',
      number: '9800000000',
      amount: 10,
      provider: 'a1topup',
      providerOrderId: 'RF3F6A0C1D2E4B5A69788796A5',
      providerTxId: '8812345',
      providerRef: 'OP8812345',
      providerStatus: 'Success',
      attempts: 1,
      reversal: null,
      createdAt: '2026-12-02T10:00:00.000Z',
      updatedAt: '2026-12-02T10:00:01.200Z',
      history: [
        { at: '2026-12-02T10:00:00.000Z', from: null, to: 'queued', source: 'api', note: 'order accepted' },
        {
          at: '2026-12-02T10:00:00.050Z',
          from: 'queued',
          to: 'processing',
          source: 'worker',
          note: 'sending to a1topup as RF3F6A0C1D2E4B5A69788796A5',
        },
        {
          at: '2026-12-02T10:00:01.200Z',
          from: 'processing',
          to: 'success',
          source: 'worker',
          note: 'a1topup reported success',
          providerStatus: 'Success',
        },
      ],
    },
  ],
} as const;

/** A valid order, accepted (`202`) when sent as is: the example of `POST /v1/recharges`. */
export const RECHARGE_EXAMPLE = {
  orderId: 'demo-1',
  operator: 'A',
  circle: '5',
  number: '9800000000',
  amount: 10,
} as const;

/** A CSV batch of two valid rows: the example of `POST /v1/batches`. */
export const BATCH_CSV_EXAMPLE =
  'orderId,operator,circle,number,amount\nbatch-demo-1,A,5,9800000001,10\nbatch-demo-2,RC,5,9800000002,20\n';

/** The request body of `POST /v1/recharges` in the document: the domain's fields with an example. */
export const rechargeBodyWithExampleDoc = { ...rechargeBodyDoc, examples: [RECHARGE_EXAMPLE] };

/** The tags of the OpenAPI document, in the order `/docs` shows them. */
export const API_TAGS = [
  { name: 'recharges', description: 'Submit recharges and read their state and history' },
  { name: 'batches', description: 'CSV batches: upload, progress, per-row results' },
  {
    name: 'operators',
    description: 'Operator role: manual review, reversals, stored callbacks, reconciliation',
  },
  { name: 'providers', description: 'Provider health, circuit breakers, balances' },
  {
    name: 'webhooks',
    description: 'Signed webhooks: endpoints, their deliveries and attempts, resending a delivery',
  },
  { name: 'callbacks', description: "Providers' own callbacks (their token in the path)" },
  { name: 'health', description: 'Liveness and readiness probes' },
] as const;

const OPERATOR_PATHS = ['/v1/manual-review', '/v1/callbacks', '/v1/reconciliation'];

/** The tag of a route by its URL; undefined for routes outside the documented API. */
export function tagOf(url: string): string | undefined {
  if (url.endsWith('/resolve') || url.endsWith('/reverse') || OPERATOR_PATHS.includes(url))
    return 'operators';
  if (url.startsWith('/v1/recharges')) return 'recharges';
  if (url.startsWith('/v1/batches')) return 'batches';
  if (url.startsWith('/v1/providers')) return 'providers';
  if (url.startsWith('/v1/webhooks')) return 'webhooks';
  if (url.startsWith('/callbacks/')) return 'callbacks';
  if (url === '/healthz' || url === '/readyz') return 'health';
  return undefined;
}

/** What a success answer means, for routes that do not say it themselves (else "Default Response"). */
const SUCCESS_DESCRIPTIONS: Record<number, string> = {
  200: 'the answer',
  201: 'created',
  202: 'accepted: stored and queued; the outcome comes later (read it back, or receive a webhook)',
  204: 'done; no body',
};

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'invalid request: every bad field or parameter named in `issues`',
  401: 'no valid API key',
  403: 'the key lacks the role this route needs',
  404: 'not found',
  408: 'the request or upload arrived too slowly',
  409: 'conflicts with the current state',
  410: 'the order was archived (final, past the retention window) and the archive is not readable here',
  413: 'body over the limit',
  415: 'a content type this route does not take',
  422: 'valid, but no provider its route names is enabled here (PROVIDERS); `issues` names the operator',
  429: 'over the rate limit (see Retry-After) or a per-client quota',
  503: 'our fault or a dependency down; safe to repeat',
};

/**
 * The error answers a route gives besides those it lists itself, by what it is: every /v1 route
 * may answer 400 (an unknown query parameter), 401, 429 and 503; operator routes 403; routes with a
 * body 413 and 415. Each in the one error shape, with a description.
 */
export function errorResponsesOf(
  url: string,
  method: string,
  listed: Record<string, unknown>,
): Record<string, unknown> {
  const codes = new Set<number>();
  if (url.startsWith('/v1/')) {
    for (const code of [400, 401, 429, 503]) codes.add(code);
    if (tagOf(url) === 'operators') codes.add(403);
    if (method === 'POST') {
      codes.add(413);
      codes.add(415);
    }
  } else if (url.startsWith('/callbacks/')) {
    for (const code of [400, 404, 413, 415, 429, 503]) codes.add(code);
  }
  const responses: Record<string, unknown> = {};
  for (const [code, schema] of Object.entries(listed)) {
    const status = Number(code);
    const described = typeof schema === 'object' && schema !== null && 'description' in schema;
    responses[code] =
      status >= 400 && schema === errorDoc
        ? { ...errorDoc, description: ERROR_DESCRIPTIONS[status] ?? 'refused' }
        : status < 400 && !described && typeof schema === 'object' && schema !== null
          ? { ...schema, description: SUCCESS_DESCRIPTIONS[status] ?? 'done' }
          : schema;
  }
  for (const code of codes) {
    if (!(String(code) in responses)) {
      responses[String(code)] = { ...errorDoc, description: ERROR_DESCRIPTIONS[code] ?? 'refused' };
    }
  }
  return responses;
}
