// Field checks of Istio's validating webhook (pkg/config/validation/validation.go: validateHTTPFaultInjection,
// ValidateDuration via agent.ValidateDuration, validateStringMatch, validateHTTPRouteMatchRequest, validateHTTPRewrite),
// reported as IST0106 like istioctl's schema ValidationAnalyzer (pkg/config/analysis/analyzers/schema/validation.go).

import type { HTTPRoute, LoadedObject, VirtualService } from '../../model';
import { parseDuration, regexError } from '../../istio';
import { isPlainObject } from '../load';
import { SCHEMA_ERROR, formatPath } from '../schema';
import { asArray, type Report } from './context';

export function checkFault(
  loaded: LoadedObject<VirtualService>,
  route: HTTPRoute,
  label: string,
  at: (...rest: Array<string | number>) => Array<string | number>,
  report: Report,
): void {
  const fault = route.fault;
  if (!fault || typeof fault !== 'object' || (fault.abort === undefined && fault.delay === undefined)) {
    report(loaded, SCHEMA_ERROR, `${label}: HTTP fault injection must have an abort and/or a delay`, at('fault'));
    return;
  }
  for (const kind of ['abort', 'delay'] as const) {
    const value = fault[kind]?.percentage?.value;
    if (typeof value === 'number' && (value < 0 || value > 100)) {
      report(loaded, SCHEMA_ERROR, `${label}: fault ${kind} percentage must be in range [0, 100], got ${value}`, at('fault', kind, 'percentage', 'value'));
    }
  }
  if (fault.abort) {
    const status = fault.abort.httpStatus;
    if (typeof status !== 'number' || status < 200 || status > 599) {
      report(loaded, SCHEMA_ERROR, `${label}: fault abort httpStatus must be in range [200, 599], got ${status ?? 'none'}`, at('fault', 'abort'));
    }
  }
  if (fault.delay) {
    if (fault.delay.fixedDelay === undefined) {
      report(loaded, SCHEMA_ERROR, `${label}: fault delay must have a fixedDelay`, at('fault', 'delay'));
    } else {
      checkDuration(loaded, fault.delay.fixedDelay, at('fault', 'delay', 'fixedDelay'), report);
    }
  }
}

/**
 * A duration as Istio's API server takes it: Go's time.ParseDuration grammar (jsonpb), then agent.ValidateDuration
 * (at least 1ms, whole milliseconds). A value that is not a string at all is the schema check's finding.
 */
export function checkDuration(loaded: LoadedObject, value: unknown, at: Array<string | number>, report: Report): void {
  if (typeof value !== 'string') return;
  const ms = parseDuration(value);
  if (ms === undefined) {
    report(loaded, SCHEMA_ERROR, `${formatPath(at)}: invalid duration ${JSON.stringify(value)} (Go duration syntax, e.g. 1s, 250ms, 1.5s, 1m30s)`, at);
  } else if (ms < 1) {
    report(loaded, SCHEMA_ERROR, `${formatPath(at)}: duration must be greater than 1ms (got ${value})`, at);
  } else if (!Number.isInteger(Math.round(ms * 1e6) / 1e6)) {
    report(loaded, SCHEMA_ERROR, `${formatPath(at)}: only durations to ms precision are supported (got ${value})`, at);
  }
}

/** validateStringMatch: a prefix must not be empty (except for uri), a regex must compile as RE2. */
export function checkStringMatch(
  loaded: LoadedObject,
  match: unknown,
  where: string,
  at: Array<string | number>,
  report: Report,
  allowEmptyPrefix = false,
): void {
  if (!isPlainObject(match)) return;
  if (match.prefix === '' && !allowEmptyPrefix) report(loaded, SCHEMA_ERROR, `"${where}": prefix string match should not be empty`, [...at, 'prefix']);
  if (typeof match.regex === 'string') {
    const error = regexError(match.regex);
    if (error) report(loaded, SCHEMA_ERROR, `"${where}": ${error}`, [...at, 'regex']);
  }
}

/** validateHTTPRouteMatchRequest: every StringMatch of every match block. */
export function checkMatchRegexes(
  loaded: LoadedObject<VirtualService>,
  route: HTTPRoute,
  at: (...rest: Array<string | number>) => Array<string | number>,
  report: Report,
): void {
  asArray(route.match).forEach((match, m) => {
    if (!isPlainObject(match)) return;
    checkStringMatch(loaded, match.uri, 'uri', at('match', m, 'uri'), report, true);
    for (const field of ['scheme', 'method', 'authority'] as const) checkStringMatch(loaded, match[field], field, at('match', m, field), report);
    for (const field of ['headers', 'queryParams', 'withoutHeaders'] as const) {
      const entries = isPlainObject(match[field]) ? Object.entries(match[field] as Record<string, unknown>) : [];
      for (const [name, value] of entries) {
        // In withoutHeaders `regex: "*"` is not RE2 but Istio's "header present" (translated to present_match).
        if (field === 'withoutHeaders' && isPlainObject(value) && value.regex === '*') continue;
        checkStringMatch(loaded, value, field, at('match', m, field, name), report);
      }
    }
  });
}

/** validateHTTPRewrite / validateURIRegexRewrite. */
export function checkRewrite(
  loaded: LoadedObject<VirtualService>,
  rewrite: unknown,
  label: string,
  at: (...rest: Array<string | number>) => Array<string | number>,
  report: Report,
): void {
  if (!isPlainObject(rewrite)) return;
  const regexRewrite = isPlainObject(rewrite.uriRegexRewrite) ? rewrite.uriRegexRewrite : undefined;
  if (rewrite.uri && regexRewrite) report(loaded, SCHEMA_ERROR, `${label}: rewrite may only contain one of URI or UriRegexRewrite`, at('rewrite'));
  if (!rewrite.uri && !regexRewrite && !rewrite.authority) {
    report(loaded, SCHEMA_ERROR, `${label}: rewrite must specify at least one of URI, UriRegexRewrite, or authority`, at('rewrite'));
  }
  if (regexRewrite) {
    if (!regexRewrite.match || !regexRewrite.rewrite) {
      report(loaded, SCHEMA_ERROR, `${label}: UriRegexRewrite requires both Rewrite and Match fields to be specified`, at('rewrite', 'uriRegexRewrite'));
    } else if (typeof regexRewrite.match === 'string') {
      const error = regexError(regexRewrite.match);
      if (error) report(loaded, SCHEMA_ERROR, `${label}: "HTTPRewrite.UriRegexRewrite.Match": ${error}`, at('rewrite', 'uriRegexRewrite', 'match'));
    }
  }
}
