import { ValidationError } from './validation-error.ts';

/**
 * An order whose route names only providers this deployment does not run (not in `PROVIDERS`):
 * nothing would ever consume its queue, so it is refused before anything is written (the API
 * answers `422`, a CSV row is rejected). The one issue names the `operator` field, rule
 * `provider_enabled`, e.g. `TELGOO5 orders go to telgoo5, which is not enabled here (PROVIDERS=a1topup)`.
 */
export class ProviderNotEnabledError extends ValidationError {
  /** Upper-case operator code of the order. */
  readonly operator: string;
  /** The providers its route names, in order. */
  readonly route: readonly string[];
  /** The providers enabled here (PROVIDERS). */
  readonly enabled: readonly string[];

  constructor(operator: string, route: readonly string[], enabled: readonly string[]) {
    const code = operator.trim().toUpperCase();
    const which =
      route.length === 1
        ? `${route[0]}, which is not enabled`
        : `${route.join(', ')}, none of which is enabled`;
    super([
      {
        field: 'operator',
        rule: 'provider_enabled',
        message: `${code} orders go to ${which} here (PROVIDERS=${enabled.join(',')})`,
      },
    ]);
    this.operator = code;
    this.route = route;
    this.enabled = enabled;
  }
}
