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
