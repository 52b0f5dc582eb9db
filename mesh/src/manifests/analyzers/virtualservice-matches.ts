// IST0131: a match an earlier match already covers, as Istio's analyzeUnreachableHTTPRules
// (pkg/config/validation/validation.go) reports it; only plain uri matches are compared.

import type { HTTPMatchRequest, HTTPRoute, LoadedObject, VirtualService } from '../../model';
import { isPlainObject } from '../load';
import { asArray, type Report } from './context';

/** IST0131: a match block that an earlier, wider match already takes (only plain uri matches are compared). */
export function checkIneffectiveMatches(loaded: LoadedObject<VirtualService>, routes: HTTPRoute[], report: Report): void {
  const earlier: Array<{ rule: number; match: HTTPMatchRequest }> = [];
  routes.forEach((route, r) => {
    asArray(route.match).forEach((match, m) => {
      if (!isPlainObject(match)) return;
      const shadow = earlier.find((e) => e.rule !== r && covers(e.match, match as HTTPMatchRequest));
      if (shadow) {
        report(loaded, 'IST0131', `VirtualService rule #${r} match #${m} is not used (duplicate/overlapping match in rule #${shadow.rule})`, [
          'spec',
          'http',
          r,
          'match',
          m,
        ]);
      }
    });
    for (const match of asArray(route.match)) if (isPlainObject(match)) earlier.push({ rule: r, match: match as HTTPMatchRequest });
  });
}

/** Whether every request `later` matches is already matched by `first`. */
function covers(first: HTTPMatchRequest, later: HTTPMatchRequest): boolean {
  if (JSON.stringify(first) === JSON.stringify(later)) return true;
  const onlyUri = (m: HTTPMatchRequest): boolean => Object.keys(m).every((k) => k === 'uri' || k === 'name');
  if (!onlyUri(first) || !onlyUri(later) || !first.uri || !later.uri) return false;
  const prefix = first.uri.prefix;
  if (prefix === undefined) return false;
  const laterValue = later.uri.exact ?? later.uri.prefix;
  return laterValue !== undefined && later.uri.regex === undefined && laterValue.startsWith(prefix);
}
