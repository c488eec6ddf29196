import { optionalString, positiveInt } from './env.ts';

/**
 * How orders are routed and the circuit breaker (api, worker). Which providers exist and which are
 * in use (PROVIDERS) is the provider registry's (`@rechargeflow/providers`).
 */
export const routingEnvShape = {
  /** Routing table as JSON text (docs/providers.md, "Routing"); ROUTING_TABLE_FILE wins if both are set. */
  ROUTING_TABLE: optionalString(),
  /** Path of a JSON file with the routing table. */
  ROUTING_TABLE_FILE: optionalString(),
  /** Consecutive failed calls (unreachable, ambiguous) that open a provider's circuit breaker. */
  BREAKER_FAILURE_THRESHOLD: positiveInt(5, 1_000),
  /** How long an open breaker refuses a provider before one probe call is let through. */
  BREAKER_OPEN_MS: positiveInt(30_000, 3_600_000),
};
