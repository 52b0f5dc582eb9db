// CNS0004: one object defined twice in the set. No istioctl or Kiali counterpart (they read a cluster, where an
// object exists once); `kubectl apply` of both would keep only the last.

import type { Finding, LoadedObject } from '../../model';
import { namespaceOf, objectKey, objectRef } from '../merge';

export function checkDuplicates(objects: LoadedObject[]): Finding[] {
  const firstByKey = new Map<string, LoadedObject>();
  const findings: Finding[] = [];
  for (const loaded of objects) {
    const key = objectKey(loaded.object);
    const first = firstByKey.get(key);
    if (!first) {
      firstByKey.set(key, loaded);
      continue;
    }
    const where = `${first.source.file}${first.source.line ? `:${first.source.line}` : ''}`;
    findings.push({
      code: 'CNS0004',
      severity: 'error',
      file: loaded.source.file,
      line: loaded.source.line,
      object: objectRef(loaded.object),
      message: `${objectRef(loaded.object)} in namespace ${namespaceOf(loaded.object)} is already defined in ${where}; applying both keeps only the last`,
    });
  }
  return findings;
}
