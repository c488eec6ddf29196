import { ConfigurationError } from '@rechargeflow/domain';

/** Start-up refused: names every bad variable of the part's environment and the rule it breaks. */
export class ConfigError extends ConfigurationError {
  constructor(app: string, problems: readonly string[]) {
    super(`${app}: invalid configuration`, problems);
  }
}
