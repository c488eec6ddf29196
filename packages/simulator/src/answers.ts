/** The three answer formats of the A1Topup document; anything else falls back to the default, csv. */
export type AnswerFormat = 'csv' | 'json' | 'xml';

export function answerFormat(value: string | undefined): AnswerFormat {
  const format = value?.trim().toLowerCase();
  return format === 'json' || format === 'xml' ? format : 'csv';
}

export type WireStatus = 'Success' | 'Failure' | 'Pending';

/** One recharge or status answer, in the document's field order. */
export interface AnswerFields {
  readonly txid: string;
  readonly status: WireStatus;
  readonly opid: string;
  readonly number: string;
  readonly amount: string;
  readonly orderid: string;
  readonly message?: string | undefined;
}

export interface RenderedAnswer {
  readonly contentType: string;
  readonly body: string;
}

const CONTENT_TYPES: Record<AnswerFormat, string> = {
  csv: 'text/plain; charset=utf-8',
  json: 'application/json; charset=utf-8',
  xml: 'application/xml; charset=utf-8',
};

function csvCell(value: string): string {
  return value.replace(/\s*[,\r\n]+\s*/g, ' ');
}

function xmlText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>';

/**
 * csv: `txid,status,opid,number,amount,orderid`. Like providers of this kind, a failure carries its
 * reason in the opid position, since csv has no message column.
 */
export function renderAnswer(
  format: AnswerFormat,
  fields: AnswerFields,
  xmlStyle: 'named' | 'positional',
): RenderedAnswer {
  const opidOrReason = fields.status === 'Failure' && fields.message ? fields.message : fields.opid;
  switch (format) {
    case 'csv':
      return {
        contentType: CONTENT_TYPES.csv,
        body: [fields.txid, fields.status, opidOrReason, fields.number, fields.amount, fields.orderid]
          .map(csvCell)
          .join(','),
      };
    case 'json':
      return {
        contentType: CONTENT_TYPES.json,
        body: JSON.stringify({
          txid: fields.txid,
          status: fields.status,
          opid: fields.opid,
          number: fields.number,
          amount: fields.amount,
          orderid: fields.orderid,
          ...(fields.message ? { message: fields.message } : {}),
        }),
      };
    case 'xml': {
      if (xmlStyle === 'positional') {
        const values = [
          fields.txid,
          fields.status,
          opidOrReason,
          fields.number,
          fields.amount,
          fields.orderid,
        ];
        return {
          contentType: CONTENT_TYPES.xml,
          body: `${XML_HEAD}<Response>${values.map((v) => `<value>${xmlText(v)}</value>`).join('')}</Response>`,
        };
      }
      const named: [string, string][] = [
        ['TXID', fields.txid],
        ['STATUS', fields.status],
        ['OPID', fields.opid],
        ['NUMBER', fields.number],
        ['AMOUNT', fields.amount],
        ['ORDERID', fields.orderid],
      ];
      if (fields.message) named.push(['MESSAGE', fields.message]);
      return {
        contentType: CONTENT_TYPES.xml,
        body: `${XML_HEAD}<Response>${named.map(([k, v]) => `<${k}>${xmlText(v)}</${k}>`).join('')}</Response>`,
      };
    }
  }
}

/** Balance answer: csv `Success,1234.50`; json `{status, balance}`; xml `<STATUS>`, `<BALANCE>`. */
export function renderBalance(
  format: AnswerFormat,
  status: 'Success' | 'Failure',
  balanceOrReason: string,
): RenderedAnswer {
  const key = status === 'Success' ? 'balance' : 'message';
  switch (format) {
    case 'csv':
      return { contentType: CONTENT_TYPES.csv, body: `${status},${csvCell(balanceOrReason)}` };
    case 'json':
      return { contentType: CONTENT_TYPES.json, body: JSON.stringify({ status, [key]: balanceOrReason }) };
    case 'xml': {
      const tag = key.toUpperCase();
      return {
        contentType: CONTENT_TYPES.xml,
        body: `${XML_HEAD}<Response><STATUS>${status}</STATUS><${tag}>${xmlText(balanceOrReason)}</${tag}></Response>`,
      };
    }
  }
}
