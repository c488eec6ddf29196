import { ORDER_STATES } from '@rechargeflow/domain';

// JSON schemas used for the OpenAPI document only: requests are validated by our own parsers so
// that every bad field is reported at once in our error format.

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

export const rechargeBodyDoc = {
  type: 'object',
  required: ['orderId', 'operator', 'number', 'amount'],
  additionalProperties: false,
  properties: {
    orderId: {
      type: 'string',
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
      description: 'your unique id for the order',
    },
    operator: {
      type: 'string',
      description: 'operator code from the A1Topup table, e.g. A (Airtel), ATV (Airtel DTH)',
    },
    circle: { type: 'string', description: 'circle code, e.g. 5 (Delhi)' },
    number: { type: 'string', description: 'mobile number, DTH id, or account/consumer number' },
    amount: { type: ['number', 'string'], description: 'rupees, at most two decimals' },
    value1: { type: 'string', description: 'extra biller field (STD code, billing unit, date of birth...)' },
    value2: { type: 'string', description: 'second extra biller field' },
    telgoo5: {
      type: 'object',
      description:
        'operator TELGOO5 only: number is the MDN, amount in US dollars; raw card fields are refused',
      additionalProperties: false,
      required: ['enrollmentId', 'topupType', 'billingState', 'billingCity'],
      properties: {
        enrollmentId: { type: 'string' },
        planCode: { type: 'string' },
        planId: { type: 'string' },
        topupType: { type: 'string', enum: ['ADDON', 'ILD', 'DATA', 'TOPUP'] },
        paymentToken: { type: 'string', description: 'saved payment profile (or customerToken)' },
        customerToken: { type: 'string' },
        billingState: { type: 'string' },
        billingCity: { type: 'string' },
        billingZip: { type: 'string' },
        billingAddress1: { type: 'string' },
        billingAddress2: { type: 'string' },
      },
    },
  },
} as const;

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
} as const;
