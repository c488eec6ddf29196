import { RechargeflowError } from './rechargeflow-error.ts';

/**
 * Settings a part cannot start with (its environment, its routing table, ...): `problems` names
 * each one with its place. Every part exits with code 2 on one (runPart), the code that tells an
 * operator "fix the settings", rather than 1 (any other start-up failure).
 */
export class ConfigurationError extends RechargeflowError {
  readonly problems: readonly string[];

  /** `what` says which settings, e.g. `api: invalid configuration`; each problem gets a line. */
  constructor(what: string, problems: readonly string[]) {
    super(`${what}:\n${problems.map((p) => `  - ${p}`).join('\n')}`, { retryable: false });
    this.problems = problems;
  }
}
