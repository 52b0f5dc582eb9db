/**
 * The mesh's active Istio objects and their compiled form. Every change (API apply/delete, file reload) builds a
 * candidate full set and analyzes it together with the Kubernetes objects exactly like the manifests check does.
 * Like a cluster's API server it refuses a change only for what Istio's validation refuses (`refusedOnApply`: the
 * last good config stays); anything else the analysis finds is applied and reported as warnings about the changed
 * objects, as `kubectl apply` prints admission warnings. The compiled config is swapped in as one value, so a
 * request in flight keeps the config it started with.
 */
import { EventEmitter } from 'node:events';
import { isIstioObject } from '../istio';
import { isGatewayApiObject } from '../gateway-api/kinds';
import { refusedOnApply } from '../manifests/analyze';
import { mergeObjects, objectKey, objectRef } from '../manifests/merge';
import type { Finding, K8sObject, LoadedObject } from '../model';

export class ConfigRejectedError extends Error {
  constructor(
    readonly findings: Finding[],
    summary = 'configuration rejected',
  ) {
    super(`${summary}: ${findings.map(formatFinding).join('; ')}`);
    this.name = 'ConfigRejectedError';
  }
}

export function formatFinding(finding: Finding): string {
  const where = finding.line ? `${finding.file}:${finding.line}` : finding.file;
  return `${where} ${finding.object ?? ''} ${finding.code} ${finding.message}`.replace(/\s+/g, ' ').trim();
}

/** An active object with the bookkeeping the Kubernetes-style API needs. */
export interface StoredObject {
  loaded: LoadedObject;
  resourceVersion: number;
  uid: string;
  creationTimestamp: string;
}

export interface ConfigStoreOptions<Compiled> {
  /** Kubernetes objects (k8s/): analyzed together with every candidate, never changed at runtime. */
  kubernetesObjects: readonly LoadedObject[];
  analyze: (objects: LoadedObject[]) => Finding[];
  compile: (istioObjects: readonly LoadedObject[]) => Compiled;
  log?: (message: string) => void;
  /** The clock creation times are taken from (tests). */
  now?: () => number;
}

/** A Kubernetes creation time: RFC 3339 in whole seconds, as the API server stores `metav1.Time`. */
function creationTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Istio objects are the ones the runtime can change; everything else comes from k8s/ at start. */
export { isIstioObject } from '../istio';

/** What the running mesh can change: Istio and Gateway API objects; everything else comes from k8s/ at start. */
export function isMeshConfigObject(object: K8sObject): boolean {
  return isIstioObject(object) || isGatewayApiObject(object);
}

export class ConfigStore<Compiled> extends EventEmitter {
  private objects = new Map<string, StoredObject>();
  private compiledConfig: Compiled | undefined;
  private version = 0;
  private uidCounter = 0;
  private warnings: Finding[] = [];

  constructor(private readonly options: ConfigStoreOptions<Compiled>) {
    super();
  }

  /** The compiled config in force (throws before the first successful `initialize`). */
  compiled(): Compiled {
    if (this.compiledConfig === undefined) throw new Error('mesh config not initialized');
    return this.compiledConfig;
  }

  /** Active Istio objects in apply order. */
  active(): LoadedObject[] {
    return [...this.objects.values()].map((s) => s.loaded);
  }

  stored(): StoredObject[] {
    return [...this.objects.values()];
  }

  get(key: string): StoredObject | undefined {
    return this.objects.get(key);
  }

  /** Analysis findings about the objects of the last accepted change (or dry run): what the API shows as warnings. */
  lastWarnings(): Finding[] {
    return this.warnings;
  }

  /** A counter that grows with every accepted change (Kubernetes `resourceVersion` of lists). */
  resourceVersion(): number {
    return this.version;
  }

  /** First config: same checks as a change; throws ConfigRejectedError listing every refused finding. */
  initialize(istioObjects: LoadedObject[]): Finding[] {
    return this.commit(mergeObjects([], istioObjects), 'initial config');
  }

  /**
   * kubectl-apply semantics: each object replaces the active one with the same group/kind/namespace/name.
   * `dryRun` runs every check and changes nothing. Returns the warnings about the applied objects.
   */
  apply(objects: LoadedObject[], options: { dryRun?: boolean } = {}): Finding[] {
    const notIstio = objects.filter((o) => !isMeshConfigObject(o.object));
    if (notIstio.length > 0) {
      throw new ConfigRejectedError(
        notIstio.map((o) => ({
          // Not one of the analysis' codes (FINDING_CODES): only the running mesh refuses these.
          code: 'CNS0006',
          severity: 'error' as const,
          file: o.source.file,
          object: objectRef(o.object),
          message: `only Istio objects can be changed while the mesh runs (got ${o.object.apiVersion} ${o.object.kind}); restart the mesh for k8s/ changes`,
        })),
      );
    }
    return this.commit(mergeObjects(this.active(), objects), `applied ${objects.map((o) => objectRef(o.object)).join(', ')}`, options.dryRun);
  }

  /** Removes objects by key; returns the removed ones (none → nothing changes). */
  remove(keys: string[], options: { dryRun?: boolean } = {}): LoadedObject[] {
    const wanted = new Set(keys);
    const removed = this.active().filter((o) => wanted.has(objectKey(o.object)));
    if (removed.length > 0) {
      this.commit(
        this.active().filter((o) => !wanted.has(objectKey(o.object))),
        `deleted ${removed.map((o) => objectRef(o.object)).join(', ')}`,
        options.dryRun,
      );
    }
    return removed;
  }

  /**
   * A file's new contents: its objects replace the active ones that came from it, and active objects that came
   * from it but are no longer in it are removed (an empty list for a deleted file).
   */
  replaceFile(file: string, objects: LoadedObject[]): Finding[] {
    const remaining = this.active().filter((o) => o.source.file !== file);
    return this.commit(mergeObjects(remaining, objects), `reloaded ${file}`);
  }

  /** Whether any active object came from `file`. */
  hasFile(file: string): boolean {
    return this.active().some((o) => o.source.file === file);
  }

  private commit(candidate: LoadedObject[], description: string, dryRun = false): Finding[] {
    const findings = this.options.analyze([...this.options.kubernetesObjects, ...candidate]);
    const refused = findings.filter(refusedOnApply);
    if (refused.length > 0) throw new ConfigRejectedError(refused, `${description}: rejected`);
    // Objects are compiled with their creation time (kept across replacements, as the API server keeps it): istiod
    // orders VirtualServices by it, and of two on one mesh host a sidecar keeps the older (config/virtual-hosts.ts).
    const now = creationTime(this.options.now?.() ?? Date.now());
    const createdAt = (o: LoadedObject) => this.objects.get(objectKey(o.object))?.creationTimestamp ?? now;
    let compiled: Compiled;
    try {
      compiled = this.options.compile(candidate.map((o) => withCreationTime(o, createdAt(o))));
    } catch (error) {
      throw new ConfigRejectedError(
        [{ code: 'CNS0102', severity: 'error', file: '-', message: `cannot compile: ${(error as Error).message}` }],
        `${description}: rejected`,
      );
    }
    // Warnings name the changed objects only (the first config: everything), as admission warnings do.
    const initial = this.compiledConfig === undefined;
    const changed = new Set(
      candidate.filter((o) => initial || this.objects.get(objectKey(o.object))?.loaded !== o).map((o) => `${o.source.file}|${objectRef(o.object)}`),
    );
    this.warnings = findings.filter((f) => !refusedOnApply(f) && (initial || changed.has(`${f.file}|${f.object}`)));
    if (dryRun) return this.warnings;
    for (const warning of this.warnings) this.options.log?.(`warning: ${formatFinding(warning)}`);
    this.version += 1;
    const next = new Map<string, StoredObject>();
    for (const loaded of candidate) {
      const key = objectKey(loaded.object);
      const previous = this.objects.get(key);
      const unchanged = previous && previous.loaded === loaded;
      next.set(key, {
        loaded,
        resourceVersion: unchanged ? previous.resourceVersion : this.version,
        uid: previous?.uid ?? `mesh-${(this.uidCounter += 1)}`,
        creationTimestamp: createdAt(loaded),
      });
    }
    // One assignment each: readers see either the old or the new config, never a mix.
    this.objects = next;
    this.compiledConfig = compiled;
    this.options.log?.(description);
    this.emit('change');
    return this.warnings;
  }
}

/** The object as compiled: its own `creationTimestamp` when it gives one, else the store's. */
function withCreationTime(loaded: LoadedObject, creationTimestamp: string): LoadedObject {
  if ((loaded.object.metadata as { creationTimestamp?: string }).creationTimestamp) return loaded;
  return { ...loaded, object: { ...loaded.object, metadata: { ...loaded.object.metadata, creationTimestamp } as LoadedObject['object']['metadata'] } };
}
