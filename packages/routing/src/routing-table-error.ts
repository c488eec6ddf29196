import { ConfigurationError } from '@rechargeflow/domain';

/** A routing table that cannot be used; `problems` names each one with its place. */
export class RoutingTableError extends ConfigurationError {
  constructor(source: string, problems: readonly string[]) {
    super(`invalid routing table (${source})`, problems);
  }
}
