import type { FailureClass, ProviderAnswer } from '@rechargeflow/domain';
import { mapStatus, type ParsedBody, saysNoRecord } from './parse.ts';

export type Verdict =
  | { readonly kind: 'answer'; readonly answer: ProviderAnswer }
  | {
      readonly kind: 'error';
      readonly failureClass: FailureClass;
      readonly reason: string;
      readonly detail: string;
    };

const DUPLICATE = /duplicate|already\s*(exists?|used|processed|submitted)/i;

function ambiguous(reason: string, detail: string): Verdict {
  return { kind: 'error', failureClass: 'ambiguous', reason, detail };
}

function present(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

/**
 * What a parsed answer says about our orderid. Anything that is not a clear statement about this
 * very order is ambiguous: a wrong orderid, no status, an unknown status text. A status answer
 * must name the order to be final: a `Failure` that does not (e.g. "Invalid username") is about the
 * status request, not the recharge.
 */
export function interpretAnswer(
  parsed: ParsedBody,
  operation: 'recharge' | 'status',
  orderid: string,
): Verdict {
  if (!parsed.ok) return ambiguous(parsed.reason, parsed.detail);
  const fields = parsed.fields;
  const answered = present(fields.orderid);
  const otherOrder = answered !== undefined && answered.toLowerCase() !== orderid.toLowerCase();
  if (otherOrder) return ambiguous('orderid_mismatch', 'the answer is about a different orderid');

  // Checked before the status: such answers usually say "Failure", which is not proof of failure.
  if (operation === 'status' && saysNoRecord(fields)) {
    return {
      kind: 'answer',
      answer: {
        status: 'not_found',
        rawStatus: fields.status ?? '',
        message: present(fields.message ?? fields.opid),
      },
    };
  }

  const rawStatus = present(fields.status);
  if (rawStatus === undefined) return ambiguous('no_status', 'the answer carries no status');
  const status = mapStatus(rawStatus);
  if (status === undefined) return ambiguous('unknown_status', 'the answer has an unknown status text');
  if (operation === 'status' && status !== 'pending' && answered === undefined) {
    return ambiguous('orderid_missing', 'the status answer does not name the order');
  }
  const txid = present(fields.txid);
  const opid = present(fields.opid);
  // "Duplicate orderid" means an earlier request with this orderid exists and may have succeeded.
  if (
    operation === 'recharge' &&
    status === 'failed' &&
    [fields.message, opid].some((t) => t && DUPLICATE.test(t))
  ) {
    return ambiguous('duplicate_orderid', 'the provider says this orderid was already used');
  }
  return {
    kind: 'answer',
    answer: {
      status,
      rawStatus,
      providerTxId: txid === '0' ? undefined : txid,
      // In csv a failure carries its reason where the opid goes.
      providerRef: status === 'failed' ? undefined : opid,
      message: present(fields.message) ?? (status === 'failed' ? opid : undefined),
    },
  };
}
