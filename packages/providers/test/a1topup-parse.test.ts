import { describe, expect, it } from 'vitest';
import { classifyHttpStatus, classifyTransportError } from '../src/a1topup/classify.ts';
import { interpretAnswer } from '../src/a1topup/interpret.ts';
import { mapStatus, parseAnswerBody, parseBalanceBody, rupeesToPaise } from '../src/a1topup/parse.ts';

const ORDER = 'RF0123456789ABCDEF01234567';

function verdict(body: string, operation: 'recharge' | 'status' = 'recharge') {
  return interpretAnswer(parseAnswerBody(body), operation, ORDER);
}

describe('A1Topup answer parsing', () => {
  it('reads the csv sample of the document by position', () => {
    expect(parseAnswerBody('1225,Success,WB22565584,9800000000,10,485668')).toMatchObject({
      ok: true,
      shape: 'csv',
      fields: {
        txid: '1225',
        status: 'Success',
        opid: 'WB22565584',
        number: '9800000000',
        amount: '10',
        orderid: '485668',
      },
    });
    expect(parseAnswerBody('txid,status,opid\r\n"1225", "Pending" ,\r\n')).toMatchObject({
      ok: true,
      fields: { txid: '1225', status: 'Pending', opid: '' },
    });
  });

  it('reads json with keys in any case, one level of wrapping, or an array', () => {
    const upper = parseAnswerBody('{"TXID": 5804, "Status": "SUCCESS", "OpId": "RJ03", "ORDER_ID": "x1"}');
    expect(upper).toMatchObject({
      ok: true,
      shape: 'json',
      fields: { txid: '5804', status: 'SUCCESS', opid: 'RJ03', orderid: 'x1' },
    });
    expect(parseAnswerBody('{"Response": {"status": "Pending", "orderid": "x2"}}')).toMatchObject({
      ok: true,
      fields: { status: 'Pending', orderid: 'x2' },
    });
    expect(parseAnswerBody('[{"status":"failure","msg":"Operator down"}]')).toMatchObject({
      ok: true,
      fields: { status: 'failure', message: 'Operator down' },
    });
  });

  it('reads xml by element name in any case, or by position when the elements carry values only', () => {
    const named =
      '<?xml version="1.0"?><response><TxId>5804</TxId><status>Success</status><OPID>RJ&amp;1</OPID><OrderId>z</OrderId></response>';
    expect(parseAnswerBody(named)).toMatchObject({
      ok: true,
      shape: 'xml',
      fields: { txid: '5804', status: 'Success', opid: 'RJ&1', orderid: 'z' },
    });
    const values =
      '<Response><a>5804</a><b>Pending</b><c>RJ03</c><d>9134350662</d><e>10</e><f>485668</f></Response>';
    expect(parseAnswerBody(values)).toMatchObject({
      ok: true,
      fields: {
        txid: '5804',
        status: 'Pending',
        opid: 'RJ03',
        number: '9134350662',
        amount: '10',
        orderid: '485668',
      },
    });
    // The document's sample, as printed: values separated by spaces.
    expect(
      parseAnswerBody('<Response>5804 Success RJ0317161622000269New 9134350662 10 485668</Response>'),
    ).toMatchObject({
      ok: true,
      fields: { txid: '5804', status: 'Success', orderid: '485668' },
    });
  });

  it('says why a body is not an answer', () => {
    expect(parseAnswerBody('  \n ')).toMatchObject({ ok: false, reason: 'empty' });
    expect(parseAnswerBody('<!DOCTYPE html><html><body>502</body></html>')).toMatchObject({
      ok: false,
      reason: 'html',
    });
    expect(parseAnswerBody('<html><head><title>x</title></head></html>')).toMatchObject({
      ok: false,
      reason: 'html',
    });
    expect(parseAnswerBody('{"status": "Succ')).toMatchObject({ ok: false, reason: 'unparseable' });
    expect(parseAnswerBody('<a><b>1</a>')).toMatchObject({ ok: false, reason: 'unparseable' });
    expect(parseAnswerBody('1,Success,a,b,c,d\n2,Success,a,b,c,d')).toMatchObject({
      ok: false,
      reason: 'unparseable',
    });
  });

  it('maps status text in any case and nothing else', () => {
    expect(['Success', 'SUCCESS', 'failure', 'Failed', 'PENDING'].map(mapStatus)).toEqual([
      'success',
      'success',
      'failed',
      'failed',
      'pending',
    ]);
    expect(['Successful', 'OK', '', undefined, 'Processing'].map(mapStatus)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('parses rupee amounts into paise', () => {
    expect(['10', '10.5', '10.50', 'Rs. 1,234.56', '₹ 7', '-12.345', '0.005'].map(rupeesToPaise)).toEqual([
      1000, 1050, 1050, 123456, 700, -1235, 1,
    ]);
    expect(['', 'abc', '1.2.3', '1e5'].map(rupeesToPaise)).toEqual([null, null, null, null]);
  });

  it('parses balance answers in every shape, and sees a refusal', () => {
    expect(parseBalanceBody('Success,1234.50')).toEqual({ ok: true, paise: 123450, raw: '1234.50' });
    expect(parseBalanceBody('99.9')).toEqual({ ok: true, paise: 9990, raw: '99.9' });
    expect(parseBalanceBody('{"STATUS":"Success","Balance":"1,00,000.00"}')).toMatchObject({
      ok: true,
      paise: 10_000_000,
    });
    expect(parseBalanceBody('<r><STATUS>Success</STATUS><BALANCE>5</BALANCE></r>')).toMatchObject({
      ok: true,
      paise: 500,
    });
    expect(parseBalanceBody('Failure,Invalid username or password')).toEqual({
      ok: false,
      refused: true,
      message: 'Invalid username or password',
    });
    expect(parseBalanceBody('{"status":"Success"}')).toMatchObject({ ok: false, refused: false });
    expect(parseBalanceBody('<html><body>x</body></html>')).toMatchObject({
      ok: false,
      refused: false,
      reason: 'html',
    });
  });
});

describe('A1Topup answer interpretation', () => {
  it('turns Success, Failure and Pending about our order into answers', () => {
    expect(verdict(`77,SUCCESS,OP1,98,10,${ORDER}`)).toEqual({
      kind: 'answer',
      answer: {
        status: 'success',
        rawStatus: 'SUCCESS',
        providerTxId: '77',
        providerRef: 'OP1',
        message: undefined,
      },
    });
    expect(verdict(`0,Failure,Invalid username or password,,,`)).toMatchObject({
      kind: 'answer',
      answer: {
        status: 'failed',
        providerTxId: undefined,
        providerRef: undefined,
        message: 'Invalid username or password',
      },
    });
    expect(verdict(`{"status":"pending","orderid":"${ORDER.toLowerCase()}"}`)).toMatchObject({
      kind: 'answer',
      answer: { status: 'pending' },
    });
  });

  it('calls an answer about another order, without status, or with an unknown status ambiguous', () => {
    expect(verdict('77,Success,OP1,98,10,SOMEONE-ELSE')).toMatchObject({
      kind: 'error',
      failureClass: 'ambiguous',
      reason: 'orderid_mismatch',
    });
    expect(verdict('12345')).toMatchObject({ kind: 'error', failureClass: 'ambiguous', reason: 'no_status' });
    expect(verdict(`77,Accepted,OP1,98,10,${ORDER}`)).toMatchObject({
      kind: 'error',
      reason: 'unknown_status',
    });
    expect(verdict('{"message":"ok"}')).toMatchObject({ kind: 'error', reason: 'no_status' });
  });

  it('does not take "duplicate orderid" as proof of failure: the first request may have succeeded', () => {
    expect(verdict(`0,Failure,Duplicate Order ID,98,10,${ORDER}`)).toMatchObject({
      kind: 'error',
      reason: 'duplicate_orderid',
    });
    expect(verdict('{"status":"failed","message":"Order id already exists"}')).toMatchObject({
      kind: 'error',
      failureClass: 'ambiguous',
    });
  });

  it('for status calls: "no record" is not_found even when it says Failure; a final answer must name the order', () => {
    expect(verdict(`0,Failure,No record found,,,${ORDER}`, 'status')).toMatchObject({
      kind: 'answer',
      answer: { status: 'not_found', rawStatus: 'Failure', message: 'No record found' },
    });
    expect(verdict('{"status":"FAILED","message":"Transaction not found"}', 'status')).toMatchObject({
      kind: 'answer',
      answer: { status: 'not_found' },
    });
    expect(verdict('0,Failure,Invalid username or password,,,', 'status')).toMatchObject({
      kind: 'error',
      failureClass: 'ambiguous',
      reason: 'orderid_missing',
    });
    // The same text in a recharge answer is a plain failure.
    expect(verdict('0,Failure,No record found,,,', 'recharge')).toMatchObject({
      kind: 'answer',
      answer: { status: 'failed' },
    });
  });
});

describe('failure classification', () => {
  it('proves not-sent only for errors that happen before a byte is written', () => {
    const err = (props: Record<string, unknown>) => Object.assign(new Error('x'), props);
    expect(classifyTransportError(err({ code: 'ECONNREFUSED', syscall: 'connect' }), false)).toEqual({
      failureClass: 'not_sent',
      reason: 'connection_refused',
    });
    expect(classifyTransportError(err({ code: 'ENOTFOUND' }), false).failureClass).toBe('not_sent');
    expect(classifyTransportError(err({ code: 'UND_ERR_CONNECT_TIMEOUT' }), false).reason).toBe(
      'connect_timeout',
    );
    expect(
      classifyTransportError(err({ code: 'EHOSTUNREACH', syscall: 'connect' }), false).failureClass,
    ).toBe('not_sent');
    expect(classifyTransportError(err({ code: 'EHOSTUNREACH', syscall: 'write' }), false).failureClass).toBe(
      'ambiguous',
    );
    const allRefused = Object.assign(
      new AggregateError([err({ code: 'ECONNREFUSED' }), err({ code: 'ECONNREFUSED' })]),
      {},
    );
    expect(classifyTransportError(allRefused, false).failureClass).toBe('not_sent');
    const mixed = new AggregateError([err({ code: 'ECONNREFUSED' }), err({ code: 'ECONNRESET' })]);
    expect(classifyTransportError(mixed, false).failureClass).toBe('ambiguous');
    expect(classifyTransportError(err({ code: 'UND_ERR_SOCKET' }), false)).toEqual({
      failureClass: 'ambiguous',
      reason: 'connection_reset',
    });
    expect(classifyTransportError(err({ code: 'UND_ERR_HEADERS_TIMEOUT' }), false).reason).toBe('timeout');
    expect(classifyTransportError(new DOMException('t', 'TimeoutError'), true).reason).toBe('timeout');
    expect(classifyTransportError('weird', false)).toEqual({
      failureClass: 'ambiguous',
      reason: 'transport_error',
    });
  });

  it('treats only refusal statuses as definite, and never 408 or 5xx', () => {
    for (const status of [400, 401, 403, 404, 405, 410, 411, 413, 414, 415, 429, 431]) {
      expect(classifyHttpStatus(status), String(status)).toEqual({
        failureClass: 'failed',
        reason: 'http_refused',
      });
    }
    for (const status of [408, 409, 422, 425, 500, 502, 503, 504, 599, 302, 307, 101]) {
      expect(classifyHttpStatus(status)?.failureClass, String(status)).toBe('ambiguous');
    }
    expect(classifyHttpStatus(200)).toBeNull();
    expect(classifyHttpStatus(204)).toBeNull();
  });
});
