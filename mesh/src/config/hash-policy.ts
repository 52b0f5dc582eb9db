/**
 * A DestinationRule's `loadBalancer.consistentHash` compiled into the hash policy a cluster carries (Istio's
 * ConsistentHashToHashPolicy, pilot/pkg/networking/core/route/route.go); the data plane's upstream/hashing.ts builds
 * the ring or Maglev table from it.
 */
import { parseDuration } from '../istio';
import type { LoadBalancerSettings } from '../model';

/** DestinationRule `loadBalancer.consistentHash`, as typed once in the model. */
export type ConsistentHashSettings = NonNullable<LoadBalancerSettings['consistentHash']>;

export interface HashPolicy {
  source: 'header' | 'cookie' | 'query' | 'sourceIp';
  /** Header (lower-case), cookie or query parameter name. */
  name: string;
  cookiePath?: string;
  /** Set: a missing cookie is generated with this lifetime (0 = a session cookie); unset: never generated. */
  cookieTtlSeconds?: number;
  table: 'ring' | 'maglev';
  /** minimum ring size, or the Maglev table size. */
  size: number;
}

const DEFAULT_RING = 1024;
/** Envoy's ring_hash maximum_ring_size default. */
export const MAX_RING = 8 * 1024 * 1024;
const DEFAULT_MAGLEV = 65537;

export function compileConsistentHash(settings: ConsistentHashSettings | undefined): HashPolicy | undefined {
  if (!settings || typeof settings !== 'object') return undefined;
  const table: HashPolicy['table'] = settings.maglev ? 'maglev' : 'ring';
  const size =
    table === 'maglev'
      ? (positive(settings.maglev?.tableSize) ?? DEFAULT_MAGLEV)
      : Math.min(MAX_RING, positive(settings.ringHash?.minimumRingSize) ?? positive(settings.minimumRingSize) ?? DEFAULT_RING);
  if (settings.httpHeaderName) return { source: 'header', name: settings.httpHeaderName.toLowerCase(), table, size };
  if (settings.httpCookie?.name) {
    const ttlMs = settings.httpCookie.ttl === undefined ? undefined : parseDuration(settings.httpCookie.ttl);
    return {
      source: 'cookie',
      name: settings.httpCookie.name,
      cookiePath: settings.httpCookie.path,
      cookieTtlSeconds: ttlMs === undefined ? undefined : Math.floor(ttlMs / 1000),
      table,
      size,
    };
  }
  if (settings.httpQueryParameterName) return { source: 'query', name: settings.httpQueryParameterName, table, size };
  if (settings.useSourceIp) return { source: 'sourceIp', name: '', table, size };
  return undefined;
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : undefined;
}

/** An endpoint as Envoy names it for hashing: its address `ip:port`. */
