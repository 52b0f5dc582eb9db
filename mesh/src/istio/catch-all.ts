/**
 * What a "catch-all" rule is. Istio has two notions, and this module names both so that no caller guesses:
 *
 * - **A catch-all route** (the data plane's): a match block that translates to an Envoy route matching every path —
 *   prefix `/` (also no uri, which translates to prefix `/`) or regex `.*` — with no header or query-parameter
 *   matcher (`method`, `authority`, `scheme` and `withoutHeaders` become header matchers). istiod moves these routes
 *   behind the others on a gateway's virtual host and emits nothing after one inside a VirtualService
 *   (istio/istio pilot/pkg/networking/core/route/route.go IsCatchAllRoute, SortVHostRoutes,
 *   BuildHTTPRoutesForVirtualService). `sourceLabels`, `sourceNamespace`, `gateways` and `port` are decided when
 *   routes are built for a proxy, so they do not make a route specific.
 * - **A rule without matches** (the analyzer's): only a rule with no `match` at all hides the rules after it
 *   (IST0130, pkg/config/validation/validation.go analyzeUnreachableHTTPRules); a `prefix: /` match that shadows a
 *   later match is an overlapping match (IST0131, coveredValidation), not an unreachable rule.
 */
import type { HTTPMatchRequest, HTTPRoute } from '../model';

function empty(value: object | undefined): boolean {
  return !value || Object.keys(value).length === 0;
}

/** IsCatchAllRoute for the Envoy route one match block translates to. */
export function isCatchAllMatch(match: HTTPMatchRequest): boolean {
  const uri = match.uri;
  return (
    (!uri || uri.prefix === '/' || uri.regex === '.*') &&
    empty(match.headers) &&
    empty(match.withoutHeaders) &&
    empty(match.queryParams) &&
    !match.method &&
    !match.authority &&
    !match.scheme
  );
}

/** A rule with no match: it takes every request, so no rule after it is reachable (IST0130). */
export function hasNoMatch(rule: Pick<HTTPRoute, 'match'>): boolean {
  return !Array.isArray(rule.match) || rule.match.length === 0;
}
