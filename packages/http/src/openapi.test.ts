import { ID_PATTERN, RECHARGE_FIELDS, TELGOO5_FIELDS } from '@rechargeflow/domain';
import { describe, expect, it } from 'vitest';
import { rechargeBodyDoc } from './openapi.ts';

describe('the OpenAPI request body', () => {
  it('is the domain request schema: every field, the required ones, nothing else', () => {
    const doc = rechargeBodyDoc as {
      properties: Record<string, { pattern?: string; properties?: object; required?: string[] }>;
      required: string[];
      additionalProperties: boolean;
      $schema?: string;
    };
    expect(Object.keys(doc.properties)).toEqual(RECHARGE_FIELDS);
    expect(doc.required).toEqual(['orderId', 'operator', 'number', 'amount']);
    expect(doc.additionalProperties).toBe(false);
    expect(doc.$schema).toBeUndefined();
    expect(doc.properties.orderId?.pattern).toBe(ID_PATTERN.source);
    expect(Object.keys(doc.properties.telgoo5?.properties ?? {})).toEqual(TELGOO5_FIELDS);
    expect(doc.properties.telgoo5?.required).toEqual([
      'enrollmentId',
      'topupType',
      'billingState',
      'billingCity',
    ]);
  });
});
