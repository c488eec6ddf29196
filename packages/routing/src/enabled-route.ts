/** A route restricted to the providers enabled here, or why there is nothing left of it. */
export type EnabledRoute =
  /** The route's enabled providers, in the route's order (never empty). */
  | { readonly ok: true; readonly route: readonly string[] }
  /** No provider of the route is enabled: `named` is the route as given, `enabled` the PROVIDERS list. */
  | { readonly ok: false; readonly named: readonly string[]; readonly enabled: readonly string[] };

/**
 * The providers of `route` that are enabled here (`PROVIDERS`; names match in any case), in the
 * route's order. A provider that is not enabled has no worker consuming its queue: an order handed to
 * it would stay `queued` forever, so it is dropped from the route, and a route with none left is refused.
 */
export function enabledRoute(route: readonly string[], enabled: readonly string[]): EnabledRoute {
  const on = new Set(enabled.map((name) => name.toLowerCase()));
  const kept = route.filter((name) => on.has(name.toLowerCase()));
  return kept.length > 0 ? { ok: true, route: kept } : { ok: false, named: route, enabled };
}
