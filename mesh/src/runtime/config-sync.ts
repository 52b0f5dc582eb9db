/**
 * Config sync, the life of a config change: a watched file is edited (or an object is applied through the admin
 * API) → the file is loaded → the whole candidate set is analyzed and compiled by the ConfigStore → the compiled
 * config is swapped in (or the change is refused and the last good config stays). Start-up reads the same way.
 * What the store does with a candidate is in ./config-store.ts; this module decides which files are read and when.
 */
import fs from 'node:fs';
import path from 'node:path';
import { istioKindOf } from '../istio';
import { loadManifestFiles } from '../manifests';
import { objectKey } from '../manifests/merge';
import type {
  AuthorizationPolicy,
  DestinationRule,
  Finding,
  Gateway,
  IstioConfig,
  K8sObject,
  LoadedObject,
  PeerAuthentication,
  Service,
  VirtualService,
} from '../model';
import { withGatewayApi } from '../gateway-api';
import { ConfigRejectedError, ConfigStore, formatFinding, isMeshConfigObject } from './config-store';
import { ManifestWatcher } from './watch';

/**
 * The objects in force by kind, as the data plane's compiler and the graph's badges read them, plus the Istio objects
 * istiod would generate from the Gateway API objects among them (gateway-api/).
 */
export function toIstioConfig(objects: readonly LoadedObject[], services: readonly LoadedObject<Service>[] = [], namespace = 'default'): IstioConfig {
  return withGatewayApi(istioObjectsOf(objects), objects, services, namespace);
}

function istioObjectsOf(objects: readonly LoadedObject[]): IstioConfig {
  const of = (o: LoadedObject, kind: string): boolean => istioKindOf(o.object)?.kind === kind;
  return {
    gateways: objects.filter((o): o is LoadedObject<Gateway> => of(o, 'Gateway')),
    virtualServices: objects.filter((o): o is LoadedObject<VirtualService> => of(o, 'VirtualService')),
    destinationRules: objects.filter((o): o is LoadedObject<DestinationRule> => of(o, 'DestinationRule')),
    authorizationPolicies: objects.filter((o): o is LoadedObject<AuthorizationPolicy> => of(o, 'AuthorizationPolicy')),
    peerAuthentications: objects.filter((o): o is LoadedObject<PeerAuthentication> => of(o, 'PeerAuthentication')),
  };
}

export function findingsMessage(title: string, error: ConfigRejectedError): string {
  return `${title}:\n${error.findings.map((f) => `  ${formatFinding(f)}`).join('\n')}`;
}

/** Loads one manifest file for a runtime change; YAML errors become a rejection with the file and line. */
export function loadFileForApply(root: string, file: string): LoadedObject[] {
  const absolute = path.resolve(root, file);
  const relative = path.relative(root, absolute);
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new ConfigRejectedError([{ code: 'CNS0103', severity: 'error', file, message: 'only files inside the repository can be applied' }]);
  }
  const loaded = loadManifestFiles([relative], { root });
  if (loaded.findings.some((f) => f.severity === 'error')) throw new ConfigRejectedError(loaded.findings.filter((f) => f.severity === 'error'));
  return loaded.objects;
}

/** What start-up reads: the Kubernetes objects (fixed while the mesh runs) and the Istio objects in force at first. */
export interface StartupManifests {
  kubernetesObjects: LoadedObject[];
  istioObjects: LoadedObject[];
}

/** Reads k8s/ and the Istio paths; a file that cannot be read throws ConfigRejectedError with its findings. */
export function readStartupManifests(root: string, k8sPaths: readonly string[], istioPaths: readonly string[]): StartupManifests {
  const k8s = loadManifestFiles([...k8sPaths], { root });
  // Also loaded without Istio: the data plane then treats the gateway's VirtualServices as plain Ingress rules
  // (host/path → Service, no subsets, weights, faults or retries).
  const istio = loadManifestFiles([...istioPaths], { root });
  const errors: Finding[] = [...k8s.findings, ...istio.findings].filter((f) => f.severity === 'error');
  if (errors.length > 0) throw new ConfigRejectedError(errors);
  // gateway-api/ also holds Services (one per web-api version): they join the Kubernetes objects.
  const all = [...k8s.objects, ...istio.objects];
  return {
    kubernetesObjects: all.filter((o) => !isMeshConfigObject(o.object)),
    istioObjects: all.filter((o) => isMeshConfigObject(o.object)),
  };
}

export interface ConfigSyncOptions<Compiled> {
  root: string;
  manifests: StartupManifests;
  /** The Istio paths read at start-up (relative to root): their files are watched. */
  istioPaths: readonly string[];
  analyze: (objects: LoadedObject[]) => Finding[];
  compile: (istioObjects: readonly LoadedObject[]) => Compiled;
  /** Watch files and reload them on change (default true). */
  watch?: boolean;
  log: (message: string) => void;
}

export class ConfigSync<Compiled> {
  readonly store: ConfigStore<Compiled>;
  /** k8s/ as read at start-up (fixed while the mesh runs). */
  readonly kubernetesObjects: LoadedObject[];
  private readonly root: string;
  private readonly log: (message: string) => void;
  private readonly watchEnabled: boolean;
  private readonly watcher: ManifestWatcher;
  /** Files applied at run time (API `?file=`, `applyFile`, or a body naming a repo file): watched from then on. */
  private readonly appliedFiles = new Set<string>();
  private readonly startupFiles: string[];

  /** Compiles the start-up set; throws ConfigRejectedError when it has error findings. */
  constructor(options: ConfigSyncOptions<Compiled>) {
    this.root = options.root;
    this.kubernetesObjects = options.manifests.kubernetesObjects;
    this.log = options.log;
    this.watchEnabled = options.watch ?? true;
    this.startupFiles = options.istioPaths.map((p) => path.relative(this.root, path.resolve(this.root, p)));
    this.store = new ConfigStore<Compiled>({
      kubernetesObjects: options.manifests.kubernetesObjects,
      analyze: options.analyze,
      compile: options.compile,
      log: options.log,
    });
    this.store.initialize(options.manifests.istioObjects);
    this.watcher = new ManifestWatcher({
      root: this.root,
      onChange: (file) => this.reloadFile(file),
      onError: (error) => this.log(`file watch: ${error.message}`),
    });
  }

  /** Starts watching the start-up paths (after the workloads started: a change before that would race them). */
  watchStartupFiles(): void {
    if (!this.watchEnabled) return;
    for (const p of this.startupFiles) {
      const absolute = path.resolve(this.root, p);
      this.watcher.watch(fs.existsSync(absolute) && fs.statSync(absolute).isDirectory() ? p : path.dirname(p));
    }
  }

  close(): void {
    this.watcher.close();
  }

  /** Objects a client sent (admin API); a named repo file among their sources is watched from then on. */
  apply(objects: LoadedObject[], opts: { dryRun?: boolean } = {}): void {
    const located = objects.map((o) => this.locateSource(o));
    this.store.apply(located, opts);
    if (!opts.dryRun) this.trackFiles(located);
  }

  /** Objects applied programmatically (`MeshHandle.applyObjects`), with `source` as their file when they have none. */
  applyObjects(objects: Array<K8sObject | LoadedObject>, source: string): LoadedObject[] {
    const loaded = objects.map((o): LoadedObject =>
      'object' in o && 'source' in o ? (o as LoadedObject) : { object: o as K8sObject, source: { file: source } },
    );
    this.store.apply(loaded);
    return loaded;
  }

  /** Loads a repo file, applies it, and watches it from then on. */
  applyFile(file: string): LoadedObject[] {
    const objects = loadFileForApply(this.root, file);
    this.store.apply(objects);
    this.trackFiles(objects);
    return objects;
  }

  remove(keys: string[], opts: { dryRun?: boolean } = {}): LoadedObject[] {
    return this.store.remove(keys, opts);
  }

  /** Removes the active object of that kind and name; false when there is none. */
  deleteObject(kind: string, name: string): boolean {
    const target = this.store.active().find((o) => o.object.kind === kind && o.object.metadata.name === name);
    if (!target) return false;
    this.store.remove([objectKey(target.object)]);
    return true;
  }

  /** A source file named by a client (header x-mesh-source-file), as a path relative to root when it is a repo file. */
  private locateSource(loaded: LoadedObject): LoadedObject {
    const absolute = path.resolve(this.root, loaded.source.file);
    const relative = path.relative(this.root, absolute);
    const insideRoot = !relative.startsWith('..') && !path.isAbsolute(relative);
    return insideRoot && fs.existsSync(absolute) && fs.statSync(absolute).isFile() ? { ...loaded, source: { ...loaded.source, file: relative } } : loaded;
  }

  /** Files applied from disk are watched from then on, like the base files. */
  private trackFiles(objects: LoadedObject[]): void {
    for (const file of new Set(objects.map((o) => o.source.file))) {
      if (!fs.existsSync(path.resolve(this.root, file))) continue;
      this.appliedFiles.add(file);
      if (this.watchEnabled) this.watcher.watch(path.dirname(file));
    }
  }

  /** A watched file changed: its objects replace the ones it had (a deleted file removes them). */
  private reloadFile(file: string): void {
    const store = this.store;
    const underStartupPath = this.startupFiles.some((p) => file === p || file.startsWith(p + path.sep));
    if (!underStartupPath && !this.appliedFiles.has(file) && !store.hasFile(file)) return;
    try {
      if (!fs.existsSync(path.resolve(this.root, file))) {
        if (!store.hasFile(file)) return;
        store.replaceFile(file, []);
        this.appliedFiles.delete(file);
        return;
      }
      const objects = loadFileForApply(this.root, file);
      const current = store.active().filter((o) => o.source.file === file);
      if (JSON.stringify(current.map((o) => o.object)) === JSON.stringify(objects.map((o) => o.object))) return;
      store.replaceFile(file, objects);
    } catch (error) {
      if (error instanceof ConfigRejectedError) this.log(findingsMessage(`change in ${file} rejected, the last good config stays active`, error));
      else this.log(`cannot reload ${file}: ${(error as Error).message}`);
    }
  }
}
