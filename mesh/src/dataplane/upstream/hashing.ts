/**
 * DestinationRule `loadBalancer.consistentHash` as Envoy implements it: a hash policy turns each request into a
 * 64-bit xxHash of one value (header, cookie, query parameter or source IP), and a ring hash
 * (source/extensions/load_balancing_policies/ring_hash) or Maglev table (.../maglev) built from the endpoints'
 * addresses maps it to an endpoint, so the same value keeps reaching the same endpoint while the set is unchanged.
 * istiod's translation (pilot/pkg/networking/core/cluster_traffic_policy.go, ApplyRingHashLoadBalancer): maglev when
 * `maglev` is set, else a ring with `ringHash.minimumRingSize` (or the deprecated `minimumRingSize`, default 1024).
 */
import xxhash from 'xxhash-wasm';
import { MAX_RING, type HashPolicy } from '../../config/hash-policy';
import type { Endpoint } from '../../model';

type Hasher = Awaited<ReturnType<typeof xxhash>>;
let hasher: Hasher | undefined;
/** xxhash-wasm compiles its module asynchronously; the mesh and the test harness await this before serving. */
export const hashingReady: Promise<void> = xxhash().then((h) => {
  hasher = h;
});

/** Envoy's HashUtil::xxHash64 (seed 0 unless given); undefined only in the first milliseconds of the process. */
export function xxHash64(value: string, seed = 0n): bigint | undefined {
  return hasher?.h64(value, seed);
}

export { compileConsistentHash, type ConsistentHashSettings, type HashPolicy } from '../../config/hash-policy';

function addressOf(endpoint: Endpoint): string {
  return `${endpoint.host}:${endpoint.port}`;
}

/** A lookup structure over one set of endpoints; `pick` never returns an endpoint in `skip` unless all are. */
export interface HashTable {
  pick(hash: bigint, skip?: ReadonlySet<string>): Endpoint | undefined;
}

/** Envoy's Ring: ceil(minRingSize / n) points per endpoint (equal weights), `address_i` hashed, sorted. */
class Ring implements HashTable {
  private readonly hashes: bigint[] = [];
  private readonly hosts: Endpoint[] = [];

  constructor(endpoints: readonly Endpoint[], minRingSize: number) {
    const n = endpoints.length;
    const scale = Math.min(Math.ceil(minRingSize / n) * n, MAX_RING);
    const entries: Array<{ hash: bigint; host: Endpoint }> = [];
    let current = 0;
    let target = 0;
    for (const endpoint of endpoints) {
      const address = addressOf(endpoint);
      target += scale / n;
      for (let i = 0; current < target; i++, current++) entries.push({ hash: xxHash64(`${address}_${i}`) ?? 0n, host: endpoint });
    }
    entries.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
    for (const entry of entries) {
      this.hashes.push(entry.hash);
      this.hosts.push(entry.host);
    }
  }

  pick(hash: bigint, skip?: ReadonlySet<string>): Endpoint | undefined {
    const size = this.hashes.length;
    if (size === 0) return undefined;
    // The first point at or after the hash, wrapping to the start.
    let low = 0;
    let high = size;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.hashes[mid] < hash) low = mid + 1;
      else high = mid;
    }
    for (let step = 0; step < size; step++) {
      const host = this.hosts[(low + step) % size];
      if (!skip?.has(host.id)) return host;
    }
    return this.hosts[low % size];
  }
}

/** Envoy's MaglevTable: each endpoint fills its preferred slots (offset + j·skip) in turn until the table is full. */
class Maglev implements HashTable {
  private readonly table: Endpoint[];

  constructor(endpoints: readonly Endpoint[], tableSize: number) {
    const size = BigInt(tableSize);
    const prefs = endpoints.map((endpoint) => {
      const address = addressOf(endpoint);
      return {
        endpoint,
        offset: Number((xxHash64(address) ?? 0n) % size),
        skip: Number(((xxHash64(address, 1n) ?? 0n) % (size - 1n)) + 1n),
        next: 0,
      };
    });
    const table: Array<Endpoint | undefined> = new Array(tableSize).fill(undefined);
    let filled = 0;
    while (filled < tableSize && prefs.length > 0) {
      for (const pref of prefs) {
        let slot = (pref.offset + pref.skip * pref.next) % tableSize;
        while (table[slot] !== undefined) {
          pref.next++;
          slot = (pref.offset + pref.skip * pref.next) % tableSize;
        }
        table[slot] = pref.endpoint;
        pref.next++;
        if (++filled === tableSize) break;
      }
    }
    this.table = table as Endpoint[];
  }

  pick(hash: bigint, skip?: ReadonlySet<string>): Endpoint | undefined {
    const size = this.table.length;
    if (size === 0) return undefined;
    const start = Number(hash % BigInt(size));
    for (let step = 0; step < size; step++) {
      const host = this.table[(start + step) % size];
      if (!skip?.has(host.id)) return host;
    }
    return this.table[start];
  }
}

export function buildHashTable(endpoints: readonly Endpoint[], policy: HashPolicy): HashTable {
  return policy.table === 'maglev' ? new Maglev(endpoints, policy.size) : new Ring(endpoints, policy.size);
}

/** A cookie value from a Cookie header (quotes around the value removed, as Envoy parses it). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}

/**
 * The cookie Envoy's router sets when the hash cookie is missing: the value is the hex xxHash of the downstream
 * connection's remote and local addresses, quoted, with Max-Age (when the ttl is not 0), Path and HttpOnly.
 */
export function generatedCookie(policy: HashPolicy, remote: string, local: string): { value: string; header: string } | undefined {
  const hash = xxHash64(`${remote}${local}`);
  if (hash === undefined) return undefined;
  const value = hash.toString(16).padStart(16, '0');
  let header = `${policy.name}="${value}"`;
  if (policy.cookieTtlSeconds) header += `; Max-Age=${policy.cookieTtlSeconds}`;
  if (policy.cookiePath) header += `; Path=${policy.cookiePath}`;
  return { value, header: `${header}; HttpOnly` };
}
