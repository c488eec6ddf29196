export { cachedBreaker } from './cached-breaker.ts';
export {
  type BreakerCheck,
  type BreakerOutcome,
  type BreakerSnapshot,
  type BreakerState,
  type CircuitBreaker,
  createRedisCircuitBreaker,
  type RedisCircuitBreakerOptions,
} from './circuit-breaker.ts';
export { type EnabledRoute, enabledRoute } from './enabled-route.ts';
export { createProviderGate } from './provider-gate.ts';
export {
  DEFAULT_ROUTING_TABLE,
  loadRoutingTable,
  MAX_ROUTES_PER_RULE,
  MAX_RULES,
  MAX_TABLE_BYTES,
  parseRoutingTable,
  ROUTE_SERVICES,
  type RouteRequest,
  type RouteService,
  type RoutingRule,
  type RoutingTable,
  RoutingTableError,
  type RoutingTableInput,
  type RoutingTableSource,
  routeFor,
  routeServiceOf,
  routingTableSchema,
} from './routing-table.ts';
export {
  type ProviderSelection,
  type SelectProviderInput,
  type SkippedProvider,
  type SkipReason,
  selectProvider,
} from './select-provider.ts';
