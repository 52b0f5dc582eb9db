// VirtualServices: gateway references (KIA1102 as Kiali's NoGatewayChecker, business/checkers/virtualservices/
// no_gateway_checker.go; IST0132 as istioctl's GatewayAnalyzer, pkg/config/analysis/analyzers/virtualservice/gateways.go),
// Istio's validating webhook for VirtualServices (IST0106: ValidateVirtualService, validateHTTPRoute, validateHTTPRetry,
// pkg/config/validation/validation.go, which istioctl runs as its schema ValidationAnalyzer) and IST0130, rules after
// a catch-all rule (validation.go analyzeUnreachableHTTPRules).

import type { HTTPRoute, HTTPRouteDestination, LoadedObject, VirtualService } from '../../model';
// Gateway server hosts against VirtualService hosts with the data plane's own rule (one definition of `*.x`).
import { gatewayServerHost, hasNoMatch, hostMatches } from '../../istio';
import { isPlainObject } from '../load';
import { namespaceOf } from '../merge';
import { SCHEMA_ERROR } from '../schema';
import { asArray, type Index, type Report } from './context';
import { checkDuration, checkFault, checkMatchRegexes, checkRewrite } from './validation';
import { checkCorsPolicy, checkRedirect } from './virtualservice-cors-redirect';
import { checkDestination, checkDestinations } from './virtualservice-destinations';
import { checkIneffectiveMatches } from './virtualservice-matches';

const RETRY_ON = new Set([
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'envoy-ratelimited',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

export function checkVirtualService(loaded: LoadedObject<VirtualService>, index: Index, report: Report): void {
  const spec = loaded.object.spec;
  const gatewayRefs = asArray(spec?.gateways).filter((g): g is string => typeof g === 'string');
  checkGatewayReferences(loaded, gatewayRefs, index, report);
  checkVirtualServiceShape(loaded, gatewayRefs, report);

  const routes = asArray(spec?.http).filter(isPlainObject) as unknown as HTTPRoute[];
  let catchAll: number | undefined;
  routes.forEach((route, r) => {
    if (catchAll !== undefined) {
      report(
        loaded,
        'IST0130',
        `VirtualService rule #${r} not used (only the last rule can have no matches): rule #${catchAll} before it matches every request`,
        ['spec', 'http', r],
      );
    }
    checkHttpRoute(loaded, route, r, index, report);
    // Only a rule without matches hides the rules after it (IST0130); a match it covers is IST0131 (istio/catch-all.ts).
    if (hasNoMatch(route)) catchAll ??= r;
  });

  checkIneffectiveMatches(loaded, routes, report);
}

/** KIA1102 (a gateway that does not exist) and IST0132 (a host the gateway does not expose). */
function checkGatewayReferences(loaded: LoadedObject<VirtualService>, gatewayRefs: string[], index: Index, report: Report): void {
  const spec = loaded.object.spec;
  const namespace = namespaceOf(loaded.object);
  gatewayRefs.forEach((reference, g) => {
    const resolved = index.resolveGateway(reference, namespace);
    if (resolved === 'mesh') return;
    const gateway = index.gateways.get(resolved);
    if (!gateway) {
      report(loaded, 'KIA1102', `VirtualService is pointing to a non-existent gateway: ${reference}`, ['spec', 'gateways', g]);
      return;
    }
    const serverHosts = asArray(gateway.object.spec?.servers)
      .flatMap((server) => (isPlainObject(server) ? asArray(server.hosts) : []))
      .filter((h): h is string => typeof h === 'string')
      .map(gatewayServerHost);
    const missing = asArray(spec?.hosts).filter((h) => typeof h === 'string' && !serverHosts.some((s) => hostMatches(s, h)));
    if (missing.length > 0) {
      report(
        loaded,
        'IST0132',
        `one or more host [${missing.join(', ')}] defined in VirtualService ${loaded.object.metadata.name} not found in Gateway ${reference}`,
        ['spec', 'hosts'],
      );
    }
  });
}

/** ValidateVirtualService's checks of the object as a whole (delegates, protocols, `*` on the mesh). */
function checkVirtualServiceShape(loaded: LoadedObject<VirtualService>, gatewayRefs: string[], report: Report): void {
  const spec = loaded.object.spec;
  if (asArray(spec?.hosts).length === 0 && gatewayRefs.length > 0) {
    report(loaded, SCHEMA_ERROR, 'delegate virtual service must have no gateways specified', ['spec', 'gateways']);
  }
  if (
    asArray(spec?.http).length === 0 &&
    asArray((spec as Record<string, unknown> | undefined)?.tcp).length === 0 &&
    asArray((spec as Record<string, unknown> | undefined)?.tls).length === 0
  ) {
    report(loaded, SCHEMA_ERROR, 'http, tcp or tls must be provided in virtual service', ['spec']);
  }
  if (gatewayRefs.length === 0 || gatewayRefs.includes('mesh')) {
    asArray(spec?.hosts).forEach((host, h) => {
      if (host === '*') report(loaded, SCHEMA_ERROR, 'wildcard host * is not allowed for virtual services bound to the mesh gateway', ['spec', 'hosts', h]);
    });
  }
}

/** One HTTP rule: its actions, matches, rewrite, CORS, redirect, destinations, mirror, timeout, retries, fault. */
function checkHttpRoute(loaded: LoadedObject<VirtualService>, route: HTTPRoute, r: number, index: Index, report: Report): void {
  const spec = loaded.object.spec;
  const at = (...rest: Array<string | number>): Array<string | number> => ['spec', 'http', r, ...rest];
  const label = `spec.http[${r}]${route.name ? ` (${route.name})` : ''}`;
  const actions = (['route', 'redirect', 'directResponse'] as const).filter((k) => route[k] !== undefined);
  if (route.delegate !== undefined) {
    // validateHTTPRouteConflict, RootRoute: the delegate's rules carry the actions.
    if (asArray(spec?.hosts).length === 0) report(loaded, SCHEMA_ERROR, `${label}: delegate HTTP route cannot contain delegate`, at('delegate'));
    for (const action of ['route', 'redirect'] as const) {
      if (route[action] !== undefined)
        report(loaded, SCHEMA_ERROR, `${label}: root HTTP route ${route.name ?? ''} must not specify ${action}`.replace('  ', ' '), at(action));
    }
  } else if (actions.length > 1) {
    report(loaded, SCHEMA_ERROR, `${label}: HTTP route cannot contain both ${actions[0]} and ${actions[1]}`, at());
  } else if (actions.length === 0) {
    report(loaded, SCHEMA_ERROR, `${label}: HTTP route or redirect or directResponse is required`, at());
  }
  // validateHTTPRouteConflict: a redirect or direct response answers at the proxy, so fault and rewrite cannot apply.
  for (const answer of ['redirect', 'directResponse'] as const) {
    if (route[answer] === undefined) continue;
    for (const other of ['fault', 'rewrite'] as const) {
      if (route[other] !== undefined) report(loaded, SCHEMA_ERROR, `${label}: HTTP route cannot contain both ${other} and ${answer}`, at(other));
    }
  }
  checkMatchRegexes(loaded, route, at, report);
  if (route.rewrite !== undefined) checkRewrite(loaded, route.rewrite, label, at, report);
  checkCorsPolicy(loaded, route, at, report);
  checkRedirect(loaded, route, label, at, report);

  const destinations = asArray(route.route).filter(isPlainObject) as unknown as HTTPRouteDestination[];
  checkDestinations(loaded, destinations, at, index, report);

  if (route.mirror !== undefined) {
    checkDestination(loaded, route.mirror, at('mirror'), index, report);
    const mirrorValue = route.mirrorPercentage?.value;
    if (typeof mirrorValue === 'number' && (mirrorValue < 0 || mirrorValue > 100)) {
      report(loaded, SCHEMA_ERROR, `${label}: mirror percentage must have a max value of 100 (and be ≥ 0), got ${mirrorValue}`, at('mirrorPercentage'));
    }
  }

  checkDuration(loaded, route.timeout, at('timeout'), report);
  checkRetries(loaded, route, label, at, report);

  if (route.fault !== undefined) checkFault(loaded, route, label, at, report);
}

/** validateHTTPRetry: attempts, perTryTimeout, retryOn. */
function checkRetries(
  loaded: LoadedObject<VirtualService>,
  route: HTTPRoute,
  label: string,
  at: (...rest: Array<string | number>) => Array<string | number>,
  report: Report,
): void {
  if (route.retries) {
    checkDuration(loaded, route.retries.perTryTimeout, at('retries', 'perTryTimeout'), report);
    if (typeof route.retries.attempts === 'number' && route.retries.attempts < 0) {
      report(loaded, SCHEMA_ERROR, `${label}: attempts cannot be negative`, at('retries', 'attempts'));
    }
    if (!route.retries.attempts && (route.retries.perTryTimeout !== undefined || route.retries.retryOn || route.retries.retryRemoteLocalities !== undefined)) {
      report(loaded, SCHEMA_ERROR, `${label}: http retry policy configured when attempts are set to 0 (disabled)`, at('retries'));
    }
    if (typeof route.retries.retryOn === 'string') {
      const unknown = route.retries.retryOn
        .split(',')
        .map((s) => s.trim())
        .filter((policy) => !RETRY_ON.has(policy) && !/^\d{3}$/.test(policy));
      if (unknown.length > 0) {
        report(loaded, SCHEMA_ERROR, `${label}: retryOn contains unknown retry policy ${unknown.join(', ')}`, at('retries', 'retryOn'));
      }
    }
  }
}
