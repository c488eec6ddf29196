import { describe, expect, it } from 'vitest';
import { parseTelgoo5Envelope } from '../src/index.ts';
import { classifyTopup } from '../src/telgoo5/classify.ts';

// The document's sample bodies, as printed (samples 3-5 and 8 are not valid JSON: no comma after
// the `errors` array).
const DOC_TOKEN =
  'eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJkYXRhIjp7InVzZXJuYW1lIjoiRGV2LVR4TW9iaWxlVXNlciIsInBhc3N3b3JkIjoiRGV2LVR4TW9iaWxlUFdEIiwicGluIjoiRGV2LVR4UGluMjAxNyIsInZlbmRvcl9pZCI6IkRldi1UeE1vYmlsZSIsImxvZ19pZCI6ODA0ODMxLCJ1cmwiOiJodHRwczovL2Rldi10eG1vYmlsZS52Y2FyZWNvcnBvcmF0aW9uLmNvbS92Y2FyZU9zc0FwaS8ifSwiZXhwIjoxNTYxNDY4NjI0fQ.9iDehEddu46AKDCVWwl26ZSTTaiKt4GWKn7dUIcIspQ';

const SUCCESS = `{  
   "data":{
   },
   "msg":"Success",
   "msg_code":"RESTAPI000",
   "token":"eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.OTM0fQ.bG15ow1TqsA8-8yvk4blibP1XvIhUKAw1BJDOlNXEc0"
}`;

function failure(msg: string, code: string, errors?: string): string {
  return `{
    ${errors ? `"errors":${errors}` : ''}
    "msg": "${msg}",
    "msg_code": "${code}",
    "token": "${DOC_TOKEN}"
}`;
}

describe('Telgoo5 answer parsing', () => {
  it('reads the success sample', () => {
    const parsed = parseTelgoo5Envelope(SUCCESS);
    expect(parsed).toEqual({
      ok: true,
      envelope: {
        msgCode: 'RESTAPI000',
        msg: 'Success',
        token: 'eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.OTM0fQ.bG15ow1TqsA8-8yvk4blibP1XvIhUKAw1BJDOlNXEc0',
        errors: [],
        lenient: false,
      },
    });
    expect(classifyTopup(200, parsed)).toMatchObject({ kind: 'success', msgCode: 'RESTAPI000' });
  });

  it.each([
    ['Invalid Token', 'RESTAPI001', undefined, 'token_rejected'],
    ['Invalid Access!!', 'RESTAPI001', undefined, 'token_rejected'],
    ['Token already used', 'RESTAPI001', undefined, 'token_rejected'],
    ['Token expire', 'RESTAPI001', undefined, 'token_rejected'],
    ['Source Not Allowed', 'RESTAPI103', '["Source Not Allowed"]', 'refused'],
    ['Agent Id should not be blank', 'RESTAPI104', '["Agent Id should not be blank"]', 'refused'],
    ['Invalid Agent Id', 'RESTAPI104', '["Invalid Agent Id"]', 'refused'],
    ['Error occurred', 'RESTAPI110', '["Please enter Enrollment Id"]', 'refused'],
  ])('reads the failure sample "%s" (%s), even without its missing comma', (msg, code, errors, kind) => {
    const parsed = parseTelgoo5Envelope(failure(msg, code, errors));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.envelope).toMatchObject({
      msgCode: code,
      msg,
      token: DOC_TOKEN,
      lenient: errors !== undefined,
    });
    expect(parsed.envelope.errors).toEqual(errors ? JSON.parse(errors) : []);
    expect(classifyTopup(200, parsed).kind).toBe(kind);
  });

  it('puts msg and errors into the refusal message, without repeating one that is both', () => {
    expect(
      classifyTopup(
        200,
        parseTelgoo5Envelope(failure('Error occurred', 'RESTAPI110', '["Please enter Enrollment Id"]')),
      ),
    ).toEqual({
      kind: 'refused',
      msgCode: 'RESTAPI110',
      message: 'Error occurred: Please enter Enrollment Id',
    });
    expect(
      classifyTopup(
        200,
        parseTelgoo5Envelope(failure('Invalid Agent Id', 'RESTAPI104', '["Invalid Agent Id"]')),
      ),
    ).toMatchObject({
      message: 'Invalid Agent Id',
    });
  });

  it('falls back to reading members one by one when repairing commas is not enough', () => {
    const broken = `{ "errors": ["a", "b"] "msg": "Error occurred" "msg_code": "RESTAPI010", "token": "${DOC_TOKEN}", }`;
    const parsed = parseTelgoo5Envelope(broken);
    expect(parsed).toMatchObject({
      ok: true,
      envelope: {
        msgCode: 'RESTAPI010',
        msg: 'Error occurred',
        errors: ['a', 'b'],
        token: DOC_TOKEN,
        lenient: true,
      },
    });
  });

  it.each([
    ['', 'empty'],
    ['   \n', 'empty'],
    ['<!DOCTYPE html><html><body>502</body></html>', 'html'],
    ['#!ERR 0x1F ~~ ??? <<unexpected>>', 'unparseable'],
    ['{"msg":"Success","msg_code":"RESTAPI000","token":"abc', 'unparseable'], // truncated
    ['{"msg":"Success"}', 'not_envelope'],
    ['{"msg_code":"OK"}', 'not_envelope'],
    ['["RESTAPI000"]', 'unparseable'],
    ['{"msg_code":"RESTAPI000" "msg_code":"RESTAPI110" x}', 'unparseable'], // conflicting members
  ])('refuses %j as %s, which a top-up treats as ambiguous', (body, reason) => {
    const parsed = parseTelgoo5Envelope(body);
    expect(parsed).toMatchObject({ ok: false, reason });
    expect(classifyTopup(200, parsed).kind).toBe('ambiguous');
  });

  it('classifies codes and HTTP statuses as documented', () => {
    const env = (code: string) =>
      parseTelgoo5Envelope(`{"msg":"m","msg_code":"${code}","token":"${DOC_TOKEN}"}`);
    for (const code of ['RESTAPI010', 'RESTAPI101', 'RESTAPI105', 'RESTAPI109', 'RESTAPI110']) {
      expect(classifyTopup(200, env(code)).kind).toBe('refused');
      expect(classifyTopup(400, env(code)).kind).toBe('refused');
    }
    for (const code of ['RESTAPI002', 'RESTAPI100', 'RESTAPI111', 'RESTAPI999']) {
      expect(classifyTopup(200, env(code))).toMatchObject({ kind: 'ambiguous', reason: 'unknown_code' });
    }
    expect(classifyTopup(500, env('RESTAPI110'))).toMatchObject({ kind: 'ambiguous', reason: 'http_status' });
    expect(classifyTopup(502, env('RESTAPI001'))).toMatchObject({ kind: 'ambiguous', reason: 'http_status' });
    expect(classifyTopup(302, env('RESTAPI110'))).toMatchObject({ kind: 'ambiguous', reason: 'redirect' });
    expect(classifyTopup(400, env('RESTAPI000'))).toMatchObject({
      kind: 'ambiguous',
      reason: 'unexpected_answer',
    });
    expect(classifyTopup(404, parseTelgoo5Envelope('Not Found'))).toMatchObject({ kind: 'ambiguous' });
    expect(classifyTopup(401, env('RESTAPI001')).kind).toBe('token_rejected');
  });

  it('ignores a token member that is not a plausible token', () => {
    const parsed = parseTelgoo5Envelope(
      '{"msg":"Success","msg_code":"RESTAPI000","token":"has spaces in it"}',
    );
    expect(parsed).toMatchObject({ ok: true, envelope: { token: undefined } });
  });
});
