import { ConfigurationError } from '@rechargeflow/domain';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from './config-error.ts';
import {
  host,
  nonNegativeInt,
  oneOf,
  onOff,
  optionalPositiveInt,
  parseEnv,
  someOf,
  unsetWhenBlank,
} from './env.ts';
import { metricsEnvShape, statusCheckTimes, statusPollEnvShape } from './shared-env.ts';

const parse = <S extends z.ZodRawShape>(shape: S, env: Record<string, string | undefined>) =>
  parseEnv('test', z.object(shape), env);

describe('one rule for every variable: blank means unset', () => {
  it('gives the default (or undefined) for a value of nothing but spaces', () => {
    const shape = {
      TEXT: unsetWhenBlank(z.string().default('d')),
      HOST: host(),
      SWITCH: onOff('on'),
      CHOICE: oneOf(['json', 'csv', 'xml'], 'json'),
      COUNT: nonNegativeInt(7, 10),
      LIMIT: optionalPositiveInt(10),
    };
    const blank = Object.fromEntries(Object.keys(shape).map((name) => [name, ' \t']));
    expect(parse(shape, blank)).toEqual({
      TEXT: 'd',
      HOST: '127.0.0.1',
      SWITCH: true,
      CHOICE: 'json',
      COUNT: 7,
      LIMIT: undefined,
    });
  });

  it('names each bad value with its rule, all at once', () => {
    const shape = {
      CHOICE: oneOf(['json', 'csv', 'xml'], 'json'),
      MODE: oneOf(['readonly', 'on', 'off'], 'readonly', { lowerCase: true }),
      COUNT: nonNegativeInt(7, 10),
      LIMIT: optionalPositiveInt(10),
    };
    expect(parse(shape, { MODE: ' ON ' }).MODE).toBe('on');
    let problems: readonly string[] = [];
    try {
      parse(shape, { CHOICE: 'yaml', MODE: 'sometimes', COUNT: '-1', LIMIT: '11' });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect(error).toBeInstanceOf(ConfigurationError);
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual([
      'CHOICE: must be json, csv or xml',
      'MODE: must be readonly, on or off',
      'COUNT: must be 0 or more',
      'LIMIT: must be at most 10',
    ]);
  });
});

describe('someOf: a list of named values', () => {
  const shape = { QUEUES: someOf(['a', 'b', 'c'], ['a', 'b']) };

  it('reads a comma list without regard to case, spaces or repeats; blank or unset is the default', () => {
    expect(parse(shape, { QUEUES: ' C , a,A ' }).QUEUES).toEqual(['c', 'a']);
    expect(parse(shape, { QUEUES: ' ' }).QUEUES).toEqual(['a', 'b']);
    expect(parse(shape, {}).QUEUES).toEqual(['a', 'b']);
  });

  it('names the values allowed when one is not, and refuses an empty list', () => {
    for (const value of ['a,d', ',']) {
      let problems: readonly string[] = [];
      try {
        parse(shape, { QUEUES: value });
      } catch (error) {
        problems = (error as ConfigError).problems;
      }
      expect(problems, value).toEqual([
        `QUEUES: each must be a, b or c (not "${value === 'a,d' ? 'd' : ''}")`,
      ]);
    }
  });
});

describe('shared shapes', () => {
  it('METRICS_PORT off and METRICS_HOST loopback unless set', () => {
    expect(parse(metricsEnvShape, {})).toEqual({ METRICS_PORT: 0, METRICS_HOST: '127.0.0.1' });
    expect(parse(metricsEnvShape, { METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' })).toEqual({
      METRICS_PORT: 9464,
      METRICS_HOST: '0.0.0.0',
    });
  });

  it('the status-check times: the first check after the schedule first step, in ms', () => {
    expect(statusCheckTimes(parse(statusPollEnvShape, {}))).toEqual({
      firstCheckAfterMs: 30_000,
      intervalsMs: [30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000],
    });
    expect(statusCheckTimes(parse(statusPollEnvShape, { STATUS_POLL_SCHEDULE: '2, 5' }))).toEqual({
      firstCheckAfterMs: 2_000,
      intervalsMs: [2_000, 5_000],
    });
  });
});
