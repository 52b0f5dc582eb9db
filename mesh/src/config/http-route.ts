/**
 * Translation of one VirtualService HTTP rule into a route of the route model, as istiod translates it into an
 * Envoy route (istio/istio pilot/pkg/networking/core/route/route.go TranslateRoute): match blocks, the action
 * (route, redirect or direct response), retries, timeout, fault, mirror, CORS and header operations.
 */
import { expandShortHost, hasGatewaySemantics, parseDuration } from '../istio';
import type { HeaderOperations, HTTPRoute, StringMatch, VirtualService } from '../model';
import type { ClusterTable } from './clusters';
import { compileMatchBlock, compileRegexRewrite, compileStringMatch } from './match';
import type { CompiledCors, CompiledDestination, CompiledHeaderOps, CompiledRoute, Feature, RetryPolicy } from './route-model';

/** Istio's retry policy when a route sets none (since 1.24 no longer retrying 503). */
export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 2,
  on5xx: false,
  onGatewayError: false,
  onConnectFailure: true,
  onReset: false,
  onRetriable4xx: false,
  onCodes: new Set(),
};
export const NO_RETRY: RetryPolicy = { ...DEFAULT_RETRY, attempts: 0, onConnectFailure: false };

export function parseRetryOn(retryOn: string | undefined): Omit<RetryPolicy, 'attempts' | 'perTryTimeoutMs'> {
  const policy = { on5xx: false, onGatewayError: false, onConnectFailure: false, onReset: false, onRetriable4xx: false, onCodes: new Set<number>() };
  const items = (retryOn ?? 'connect-failure,refused-stream,unavailable,cancelled').split(',');
  for (const raw of items) {
    const item = raw.trim();
    if (item === '5xx') policy.on5xx = true;
    else if (item === 'gateway-error') policy.onGatewayError = true;
    else if (item === 'connect-failure') policy.onConnectFailure = true;
    else if (item === 'reset') policy.onReset = true;
    else if (item === 'retriable-4xx') policy.onRetriable4xx = true;
    else if (/^\d{3}$/.test(item)) policy.onCodes.add(Number(item));
    // refused-stream (HTTP/2 only), gRPC codes (unavailable, cancelled, ...) and retriable-status-codes cannot occur
    // on the mesh's HTTP/1.1 hops; they are accepted and have no effect.
  }
  return policy;
}

function percentOf(value: number | undefined): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.min(100, Math.max(0, value)) : 0;
}

function compileHeaderOps(ops: HeaderOperations | undefined): CompiledHeaderOps | undefined {
  if (!ops || (!ops.set && !ops.add && !ops.remove)) return undefined;
  return {
    remove: (ops.remove ?? []).map((name) => name.toLowerCase()),
    set: Object.entries(ops.set ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
    add: Object.entries(ops.add ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
  };
}

export function compileRewrite(rewrite: HTTPRoute['rewrite']): CompiledRoute['rewrite'] {
  if (!rewrite) return undefined;
  const { uri, authority, uriRegexRewrite } = rewrite;
  const regex = uriRegexRewrite?.match && uriRegexRewrite.rewrite ? compileRegexRewrite(uriRegexRewrite.match, uriRegexRewrite.rewrite) : undefined;
  if (!uri && authority === undefined && !regex) return undefined;
  return { uri: uri || undefined, authority, regex };
}

/**
 * The rule's match blocks (null: no match, takes everything); `namespace` is the VirtualService's. Gateway API
 * routes match prefixes by path segment.
 */
export function compileBlocks(rule: HTTPRoute, namespace: string, gatewaySemantics = false): CompiledRoute['blocks'] {
  return rule.match && rule.match.length > 0 ? rule.match.map((m) => compileMatchBlock(m, namespace, gatewaySemantics)) : null;
}

export { hasGatewaySemantics };

function compileRetry(rule: HTTPRoute, features: Feature[]): RetryPolicy {
  if (!rule.retries) return DEFAULT_RETRY;
  const attempts = Math.max(0, Math.floor(rule.retries.attempts ?? 0));
  if (attempts > 0) features.push('retry');
  return { attempts, perTryTimeoutMs: parseDuration(rule.retries.perTryTimeout) || undefined, ...parseRetryOn(rule.retries.retryOn) };
}

function compileFault(rule: HTTPRoute, features: Feature[]): CompiledRoute['fault'] {
  if (!rule.fault || (!rule.fault.delay && !rule.fault.abort)) return undefined;
  features.push('fault');
  return {
    delayMs: parseDuration(rule.fault.delay?.fixedDelay) ?? 0,
    delayPercent: percentOf(rule.fault.delay?.percentage?.value),
    abortStatus: rule.fault.abort?.httpStatus ?? 0,
    abortPercent: rule.fault.abort?.httpStatus ? percentOf(rule.fault.abort?.percentage?.value) : 0,
  };
}

function compileCors(rule: HTTPRoute): CompiledCors | undefined {
  const c = rule.corsPolicy;
  if (!c) return undefined;
  const maxAgeMs = parseDuration(c.maxAge);
  // TranslateCORSPolicy: allowOrigins, else the deprecated allowOrigin strings as exact matches; a StringMatch
  // without a match type converts to no matcher (util.ConvertToEnvoyMatches).
  const origins: StringMatch[] = c.allowOrigins ?? c.allowOrigin?.map((exact) => ({ exact })) ?? [];
  return {
    allowOrigins: origins.filter((m) => m && (m.exact ?? m.prefix ?? m.regex) !== undefined).map((m) => compileStringMatch(m)),
    forwardNotMatchingPreflights: c.unmatchedPreflights !== 'IGNORE',
    allowMethods: c.allowMethods?.join(','),
    allowHeaders: c.allowHeaders?.join(','),
    exposeHeaders: c.exposeHeaders?.join(','),
    maxAgeSeconds: maxAgeMs === undefined ? undefined : String(Math.floor(maxAgeMs / 1000)),
    allowCredentials: c.allowCredentials === true,
  };
}

function compileDestinations(rule: HTTPRoute, namespace: string, clusters: ClusterTable): { destinations: CompiledDestination[]; totalWeight: number } {
  const destinations: CompiledDestination[] = [];
  let totalWeight = 0;
  const routeDestinations = rule.route ?? [];
  for (const entry of routeDestinations) {
    if (!entry?.destination?.host) continue;
    const cluster = clusters.clusterFor(expandShortHost(entry.destination.host, namespace), entry.destination.subset, entry.destination.port?.number);
    // Relative weights: a lone destination takes everything; among several, a missing or 0 weight takes nothing.
    const weight = routeDestinations.length === 1 ? 1 : Math.max(0, entry.weight ?? 0);
    totalWeight += weight;
    destinations.push({
      cluster,
      weight,
      requestHeaders: compileHeaderOps(entry.headers?.request),
      responseHeaders: compileHeaderOps(entry.headers?.response),
      features: [],
    });
  }
  return { destinations, totalWeight };
}

function compileAction(rule: HTTPRoute): Pick<CompiledRoute, 'kind' | 'redirect' | 'direct'> {
  // Every route carries all three keys: one object shape for the data plane's hot path.
  if (rule.redirect) {
    const { derivePort, redirectCode, ...rest } = rule.redirect;
    // ApplyRedirect (route.go): redirectCode 0 means 301; derivePort FROM_REQUEST_PORT is the listener's port.
    return { kind: 'redirect', redirect: { ...rest, fromRequestPort: derivePort === 'FROM_REQUEST_PORT', code: redirectCode || 301 }, direct: undefined };
  }
  if (!rule.directResponse) return { kind: 'route', redirect: undefined, direct: undefined };
  const body = rule.directResponse.body;
  return {
    kind: 'direct',
    redirect: undefined,
    direct: {
      status: rule.directResponse.status,
      body: body?.string !== undefined ? Buffer.from(body.string) : body?.bytes !== undefined ? Buffer.from(body.bytes, 'base64') : Buffer.alloc(0),
    },
  };
}

/** Whether istiod emits a route for the rule: it has an action. */
export function hasAction(rule: HTTPRoute | undefined): rule is HTTPRoute {
  return Boolean(rule && (rule.route?.length || rule.redirect || rule.directResponse));
}

/** One Istio HTTP rule of `vs` (in `namespace`) as a route of the route model. */
export function translateRoute(vs: VirtualService, rule: HTTPRoute, namespace: string, clusters: ClusterTable): CompiledRoute {
  const gatewaySemantics = hasGatewaySemantics(vs);
  const features: Feature[] = [];
  const timeoutMs = parseDuration(rule.timeout) || undefined;
  if (timeoutMs) features.push('timeout');
  const retry = compileRetry(rule, features);
  const fault = compileFault(rule, features);
  const { destinations, totalWeight } = compileDestinations(rule, namespace, clusters);
  if (destinations.filter((d) => d.weight > 0).length > 1) features.push('trafficShift');

  let mirror: CompiledRoute['mirror'];
  if (rule.mirror?.host) {
    mirror = {
      cluster: clusters.clusterFor(expandShortHost(rule.mirror.host, namespace), rule.mirror.subset, rule.mirror.port?.number),
      percent: rule.mirrorPercentage ? percentOf(rule.mirrorPercentage.value) : 100,
    };
    features.push('mirror');
  }
  let mirrors: CompiledRoute['mirrors'];
  if (rule.mirrors?.length) {
    mirrors = rule.mirrors
      .filter((m) => m?.destination?.host)
      .map((m) => ({
        cluster: clusters.clusterFor(expandShortHost(m.destination.host, namespace), m.destination.subset, m.destination.port?.number),
        percent: m.percentage ? percentOf(m.percentage.value) : 100,
      }));
    if (!features.includes('mirror')) features.push('mirror');
  }
  for (const destination of destinations) {
    const policy = destination.cluster.policy;
    destination.features = policy.limited || policy.outlier ? [...features, 'circuitBreaker'] : features;
  }

  return {
    virtualService: vs.metadata.name,
    name: rule.name,
    blocks: compileBlocks(rule, namespace, gatewaySemantics),
    ...compileAction(rule),
    destinations,
    totalWeight,
    rewrite: compileRewrite(rule.rewrite),
    destinationOpsAfterRoute: (rule.route ?? []).length === 1,
    timeoutMs,
    retry,
    fault,
    mirror,
    mirrors,
    gatewaySemantics: gatewaySemantics || undefined,
    requestHeaders: compileHeaderOps(rule.headers?.request),
    responseHeaders: compileHeaderOps(rule.headers?.response),
    cors: compileCors(rule),
    features,
  };
}
