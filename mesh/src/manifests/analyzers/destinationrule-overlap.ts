// KIA0201: several DestinationRules for one host and subset, as Kiali's MultiMatchChecker
// (business/checkers/destinationrules/multi_match_checker.go).

import type { DestinationRule, LoadedObject } from '../../model';
import { isPlainObject } from '../load';
import { namespaceOf, objectRef } from '../merge';
import { asArray, serviceKey, type Index, type Report } from './context';

/** KIA0201: two DestinationRules defining the same subset of one host (which one wins is undefined). */
export function checkDestinationRuleOverlap(index: Index, report: Report): void {
  const owners = new Map<string, LoadedObject<DestinationRule>[]>();
  for (const dr of index.destinationRules) {
    const host = dr.object.spec?.host;
    if (typeof host !== 'string') continue;
    const hostKey = serviceKey(host, namespaceOf(dr.object)) ?? host;
    const subsetNames = asArray(dr.object.spec?.subsets)
      .map((s) => (isPlainObject(s) && typeof s.name === 'string' ? s.name : undefined))
      .filter((s): s is string => s !== undefined);
    for (const subset of subsetNames.length > 0 ? new Set(subsetNames) : ['']) {
      const key = `${hostKey}|${subset}`;
      const list = owners.get(key) ?? [];
      list.push(dr);
      owners.set(key, list);
    }
  }
  for (const [key, list] of owners) {
    if (list.length < 2) continue;
    const [host, subset] = key.split('|');
    for (const dr of list) {
      const others = list
        .filter((o) => o !== dr)
        .map((o) => objectRef(o.object))
        .join(', ');
      report(
        dr,
        'KIA0201',
        `More than one DestinationRules for the same host subset combination: ${host}${subset ? ` subset ${subset}` : ''} (also ${others})`,
        ['spec', 'host'],
        'warning',
      );
    }
  }
}
