/**
 * Precompiled VirtualService `match` blocks (Istio HTTPMatchRequest): each block is a list of predicates that must
 * all hold (AND); a rule's blocks are OR-ed by the caller.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { compileRegex, isCatchAllMatch, resolveGatewayRef } from '../istio';
import type { HTTPMatchRequest, StringMatch } from '../model';

/** What the matchers look at, built once per request. */
export interface RequestView {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Text after `?` ('' when none). */
  rawQuery: string;
  headers: IncomingHttpHeaders;
  /** Host / :authority exactly as sent (may include a port). */
  authority: string;
  scheme: string;
  /**
   * The listener port, the caller's labels and the gateway names: not read by the matchers any more — `port`,
   * `sourceLabels`, `sourceNamespace` and `gateways` are decided when routes are built per proxy (proxy-routes.ts).
   */
  port: number;
  sourceLabels: Readonly<Record<string, string>>;
  gatewayIds: readonly string[];
  /** Parsed lazily, only when a rule matches on query parameters. */
  query?: URLSearchParams;
}

export type StringPredicate = (value: string) => boolean;

const never: StringPredicate = () => false;

/**
 * Envoy's `regex_rewrite` (from Istio's `rewrite.uriRegexRewrite`): every match in the path is replaced
 * (RE2::GlobalReplace), `\N` in the substitution inserts group N and `\\` a backslash. undefined for a bad regex.
 */
export function compileRegexRewrite(pattern: string, substitution: string): ((path: string) => string) | undefined {
  const re = compileRegex(pattern);
  if (!re) return undefined;
  const groups = re.groupCount();
  const parts: Array<string | number> = [];
  for (const [, digit, escaped, literal] of substitution.matchAll(/\\([0-9])|\\(\\)|([^\\]+|\\)/g)) {
    parts.push(digit !== undefined ? Number(digit) : (escaped ?? literal!));
  }
  return (path) =>
    re
      .matcher(path)
      .replaceAll((...args: unknown[]) => parts.map((part) => (typeof part === 'number' ? (part <= groups ? String(args[part] ?? '') : '') : part)).join(''));
}

export function compileStringMatch(match: StringMatch, ignoreCase = false): StringPredicate {
  if (typeof match.exact === 'string') {
    const expected = ignoreCase ? match.exact.toLowerCase() : match.exact;
    return ignoreCase ? (v) => v.toLowerCase() === expected : (v) => v === expected;
  }
  if (typeof match.prefix === 'string') {
    const expected = ignoreCase ? match.prefix.toLowerCase() : match.prefix;
    return ignoreCase ? (v) => v.toLowerCase().startsWith(expected) : (v) => v.startsWith(expected);
  }
  if (typeof match.regex === 'string') {
    // Envoy ignores case_sensitive for safe_regex: ignoreUriCase does not apply to regexes.
    const re = compileRegex(match.regex);
    return re ? (v) => re.matches(v) : never;
  }
  return () => true;
}

/**
 * Istio translates `{}` (no match type) and `regex: "*"` to Envoy's `present_match` (route.go
 * canBeConvertedToPresentMatch); everything else, `exact: ""` included, is a string match on the value.
 */
function isPresenceMatch(match: StringMatch | undefined): boolean {
  return !match || (match.exact === undefined && match.prefix === undefined && match.regex === undefined) || match.regex === '*';
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(',') : value;
}

function queryOf(view: RequestView): URLSearchParams {
  if (!view.query) view.query = new URLSearchParams(view.rawQuery);
  return view.query;
}

type ViewPredicate = (view: RequestView) => boolean;

export interface CompiledMatchBlock {
  test: ViewPredicate;
  /** istiod's IsCatchAllRoute (istio/catch-all.ts): gateways move these routes behind the others. */
  catchAll: boolean;
  /** Length of the matched uri prefix: the prefix match's, 1 without a uri match (Istio matches prefix "/"). */
  uriPrefixLength?: number;
  /** The uri part of Istio's route decorator (trace operation name): `prefix*`, the exact path or the regex. */
  tracePath?: string;
  /** Block name, reported nowhere yet but kept for debugging. */
  name?: string;
  /**
   * What decides, when routes are built for a proxy, whether this block reaches it at all (proxy-routes.ts): istiod
   * drops the route for other proxies instead of testing these per request. Undefined when the block has none.
   */
  proxy?: ProxyCondition;
}

/** `port`, `sourceLabels`, `sourceNamespace` and `gateways` of a match block (route.go TranslateRoute, sourceMatchHTTP). */
export interface ProxyCondition {
  /** The listener port the block is for. */
  port?: number;
  sourceLabels?: ReadonlyArray<[string, string]>;
  sourceNamespace?: string;
  /** `namespace/name` of the gateways (or `mesh`) the block is for, resolved as istiod resolves them. */
  gateways?: readonly string[];
}

function proxyCondition(block: HTTPMatchRequest, namespace: string): ProxyCondition | undefined {
  const condition: ProxyCondition = {};
  if (typeof block.port === 'number' && block.port !== 0) condition.port = block.port;
  if (block.sourceLabels && Object.keys(block.sourceLabels).length > 0) condition.sourceLabels = Object.entries(block.sourceLabels);
  if (block.sourceNamespace) condition.sourceNamespace = block.sourceNamespace;
  if (block.gateways && block.gateways.length > 0) condition.gateways = block.gateways.map((g) => resolveGatewayRef(g, namespace));
  return Object.keys(condition).length > 0 ? condition : undefined;
}

/**
 * One match block; `namespace` is the VirtualService's (short gateway names in `gateways` resolve in it).
 * `pathSeparatedPrefix`: a route from the Gateway API, where a prefix matches whole path segments (istiod builds
 * Envoy's `path_separated_prefix` for it: route.go TranslateRouteMatch with gateway semantics): `/api` matches
 * `/api` and `/api/x`, not `/apix`.
 */
export function compileMatchBlock(block: HTTPMatchRequest, namespace = 'default', pathSeparatedPrefix = false): CompiledMatchBlock {
  const predicates: ViewPredicate[] = [];
  const segmentPrefix =
    pathSeparatedPrefix && typeof block.uri?.prefix === 'string' && block.uri.prefix !== '/' ? block.uri.prefix.replace(/\/$/, '') : undefined;
  if (segmentPrefix !== undefined) {
    const within = `${segmentPrefix}/`;
    predicates.push((view) => view.path === segmentPrefix || view.path.startsWith(within));
  } else if (block.uri) {
    const test = compileStringMatch(block.uri, block.ignoreUriCase === true);
    predicates.push((view) => test(view.path));
  }
  if (block.scheme) {
    const test = compileStringMatch(block.scheme);
    predicates.push((view) => test(view.scheme));
  }
  if (block.method) {
    const test = compileStringMatch(block.method);
    predicates.push((view) => test(view.method));
  }
  if (block.authority) {
    const test = compileStringMatch(block.authority);
    predicates.push((view) => test(view.authority));
  }
  for (const [rawName, match] of Object.entries(block.headers ?? {})) {
    const name = rawName.toLowerCase();
    if (isPresenceMatch(match)) {
      predicates.push((view) => view.headers[name] !== undefined);
    } else {
      const test = compileStringMatch(match);
      predicates.push((view) => {
        const value = headerValue(view.headers, name);
        return value !== undefined && test(value);
      });
    }
  }
  for (const [rawName, match] of Object.entries(block.withoutHeaders ?? {})) {
    const name = rawName.toLowerCase();
    if (isPresenceMatch(match)) {
      predicates.push((view) => view.headers[name] === undefined);
    } else {
      // Istio inverts the header matcher and sets treat_missing_header_as_empty: a missing header is tested as "".
      const test = compileStringMatch(match);
      predicates.push((view) => !test(headerValue(view.headers, name) ?? ''));
    }
  }
  for (const [name, match] of Object.entries(block.queryParams ?? {})) {
    if (isPresenceMatch(match)) {
      predicates.push((view) => queryOf(view).has(name));
    } else {
      const test = compileStringMatch(match);
      predicates.push((view) => {
        const value = queryOf(view).get(name);
        return value !== null && test(value);
      });
    }
  }
  const test: ViewPredicate =
    predicates.length === 0
      ? () => true
      : predicates.length === 1
        ? predicates[0]
        : (view) => {
            for (const predicate of predicates) if (!predicate(view)) return false;
            return true;
          };
  // Without a uri match Istio's route match is prefix "/" (route.go TranslateRouteMatch): rewrite.uri replaces that "/".
  const uriPrefixLength = !block.uri
    ? 1
    : segmentPrefix !== undefined
      ? segmentPrefix.length
      : typeof block.uri.prefix === 'string'
        ? block.uri.prefix.length
        : undefined;
  const uri = block.uri;
  const tracePath = uri === undefined ? undefined : typeof uri.prefix === 'string' ? `${uri.prefix}*` : (uri.exact ?? uri.regex);
  const catchAll = isCatchAllMatch(block);
  return { test, catchAll, uriPrefixLength, tracePath, name: block.name, proxy: proxyCondition(block, namespace) };
}
