// A VirtualService rule's corsPolicy and redirect as Istio's validating webhook checks them
// (pkg/config/validation/validation.go: validateCORSPolicy, validateAllowOrigins, validateCORSHTTPMethod,
// ValidateCORSHTTPHeaderName, validateHTTPRedirect), reported as IST0106 like istioctl's schema ValidationAnalyzer,
// and the redirect codes istiod accepts but cannot translate (pilot/pkg/networking/core/route/route.go ApplyRedirect).

import type { HTTPRoute, LoadedObject, VirtualService } from '../../model';
import { parseDuration } from '../../istio';
import { isPlainObject } from '../load';
import { SCHEMA_ERROR } from '../schema';
import { asArray, type Report } from './context';
import { checkDuration, checkStringMatch } from './validation';

type At = (...rest: Array<string | number>) => Array<string | number>;

const CORS_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', '*']);
/**
 * validation.go validHeaderNameRegex, `[!#$%&'*+-.^_\`|~A-Za-z0-9]`: in that Go character class `+-.` is a range,
 * so a comma passes too (what Istio accepts is accepted here).
 */
const HEADER_NAME = /^[!#$%&'*+,\-.^_`|~A-Za-z0-9]+$/;
/** The codes ApplyRedirect maps to Envoy's RedirectAction response codes. */
const TRANSLATED_REDIRECT_CODES = new Set([0, 301, 302, 303, 307, 308]);

export function checkCorsPolicy(loaded: LoadedObject<VirtualService>, route: HTTPRoute, at: At, report: Report): void {
  const cors = route.corsPolicy;
  if (!isPlainObject(cors)) return;
  asArray(cors.allowOrigins).forEach((origin, o) => {
    const where = at('corsPolicy', 'allowOrigins', o);
    // validateAllowOrigins: the match value (exact, prefix or regex) must be non-empty before anything else.
    const value = isPlainObject(origin) ? (origin.exact ?? origin.prefix ?? origin.regex) : undefined;
    if (value === undefined || value === '') {
      report(loaded, SCHEMA_ERROR, `'${value ?? ''}' is not a valid match type for CORS allow origins`, where);
      return;
    }
    checkStringMatch(loaded, origin, 'corsPolicy.allowOrigins', where, report);
  });
  asArray(cors.allowMethods).forEach((method, m) => {
    if (!CORS_METHODS.has(String(method)))
      report(loaded, SCHEMA_ERROR, `"${String(method)}" is not a supported HTTP method`, at('corsPolicy', 'allowMethods', m));
  });
  for (const field of ['allowHeaders', 'exposeHeaders'] as const) {
    asArray(cors[field]).forEach((name, n) => {
      const text = String(name);
      if (text === '') report(loaded, SCHEMA_ERROR, 'header name cannot be empty', at('corsPolicy', field, n));
      else if (text !== '*' && !HEADER_NAME.test(text))
        report(loaded, SCHEMA_ERROR, `header name ${text} is not a valid header name`, at('corsPolicy', field, n));
    });
  }
  checkDuration(loaded, cors.maxAge, at('corsPolicy', 'maxAge'), report);
  const maxAgeMs = typeof cors.maxAge === 'string' ? parseDuration(cors.maxAge) : undefined;
  if (maxAgeMs !== undefined && maxAgeMs >= 1 && maxAgeMs % 1000 !== 0) {
    report(loaded, SCHEMA_ERROR, 'max_age duration is accurate only to seconds precision', at('corsPolicy', 'maxAge'));
  }
}

export function checkRedirect(loaded: LoadedObject<VirtualService>, route: HTTPRoute, label: string, at: At, report: Report): void {
  const redirect = route.redirect;
  if (!isPlainObject(redirect)) return;
  if (redirect.uri && redirect.prefixRewrite) {
    report(loaded, SCHEMA_ERROR, `${label}: redirect may only specify one of uri or prefix_rewrite`, at('redirect'));
  }
  if (redirect.prefixRewrite && asArray(route.match).some((m) => isPlainObject(m) && isPlainObject(m.uri) && m.uri.prefix === undefined)) {
    report(loaded, SCHEMA_ERROR, `${label}: redirect prefix_rewrite requires all URI matches to use prefix match type`, at('redirect'));
  }
  if (!redirect.uri && !redirect.prefixRewrite && !redirect.authority && redirect.port === undefined && redirect.derivePort === undefined && !redirect.scheme) {
    report(loaded, SCHEMA_ERROR, `${label}: redirect must specify URI, authority, scheme, or port`, at('redirect'));
  }
  const code = redirect.redirectCode;
  if (typeof code === 'number' && code !== 0 && (code < 300 || code > 399)) {
    report(loaded, SCHEMA_ERROR, `${label}: ${code} is not a valid redirect code, must be 3xx`, at('redirect', 'redirectCode'));
  } else if (typeof code === 'number' && !TRANSLATED_REDIRECT_CODES.has(code)) {
    // Accepted on apply (not IST0106), an error for the lint: istiod logs "Redirect Code N is not yet supported"
    // and builds a route without an action.
    report(
      loaded,
      'CNS0114',
      `${label}: redirect code ${code} is accepted but istiod cannot translate it (only 301, 302, 303, 307, 308): the route it builds has no action, which Envoy rejects`,
      at('redirect', 'redirectCode'),
    );
  }
  if (redirect.scheme && redirect.scheme !== 'http' && redirect.scheme !== 'https') {
    report(loaded, SCHEMA_ERROR, `${label}: invalid redirect scheme, must be "http" or "https"`, at('redirect', 'scheme'));
  }
  if (typeof redirect.port === 'number' && (redirect.port < 0 || redirect.port > 65535)) {
    report(loaded, SCHEMA_ERROR, `${label}: port number ${redirect.port} must be in the range 1..65535`, at('redirect', 'port'));
  }
}
