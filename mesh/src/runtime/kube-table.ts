/**
 * `kubectl get` asks for a `Table` (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io, ...`); for a kind with
 * printer columns the admin answers with one, as the API server's CRD table convertor does (apiextensions-apiserver
 * `pkg/registry/customresource/tableconvertor`): a Name column, then each column's JSONPath, only its first result,
 * a string cell printed as JSON when it is not a string (`["a.example"]`), a date cell as an age (`5m`).
 */
import type { IncomingMessage } from 'node:http';
import { JSONPath } from 'jsonpath-plus';
import type { PrinterColumn } from '../gateway-api/kinds';

/** kubectl's Table request: a meta.k8s.io Table in v1 (or v1beta1, which has the same shape). */
export function wantsTable(req: IncomingMessage): 'v1' | 'v1beta1' | undefined {
  const accept = String(req.headers.accept ?? '');
  for (const part of accept.split(',')) {
    const params = new Map(
      part
        .split(';')
        .slice(1)
        .map((p) => p.trim().split('=') as [string, string]),
    );
    if (params.get('as') === 'Table' && params.get('g') === 'meta.k8s.io' && (params.get('v') === 'v1' || params.get('v') === 'v1beta1')) {
      return params.get('v') as 'v1' | 'v1beta1';
    }
  }
  return undefined;
}

type Presented = { metadata: Record<string, unknown> } & Record<string, unknown>;

export function asTable(
  version: 'v1' | 'v1beta1',
  columns: readonly PrinterColumn[],
  objects: readonly Presented[],
  resourceVersion: string,
  now = Date.now(),
): object {
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${version}`,
    metadata: { resourceVersion },
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
      ...columns.map((c) => ({ name: c.name, type: c.type, format: '', description: '', priority: c.priority ?? 0 })),
    ],
    rows: objects.map((object) => ({
      cells: [object.metadata.name, ...columns.map((c) => cell(c, object, now))],
      object: { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata: object.metadata },
    })),
  };
}

function cell(column: PrinterColumn, object: Presented, now: number): unknown {
  const results = JSONPath({ path: `$${column.jsonPath}`, json: object, wrap: true }) as unknown[];
  if (results.length === 0 || results[0] === undefined) return null;
  const value = results[0];
  if (column.type === 'date') return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? humanDuration(now - Date.parse(value)) : null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** apimachinery `util/duration.HumanDuration`: `45s`, `3m20s`, `12m`, `5h30m`, `30h`, `3d4h`, `40d`, `2y10d`. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.floor(hours / 24);
    return days % 365 === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}
