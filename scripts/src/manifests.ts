/**
 * Reads the YAML the commands send — files given with -f, and the k8s/ and istio/base/ folders (their
 * kustomization `resources` in order) — with the mesh's manifest loader and analysis. Everything is read and
 * checked before the first API call, so a missing file, invalid YAML or a broken reference changes nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { analyzeManifests, formatFinding, mergeObjects, parseManifestText, refusedOnApply } from '@cns/mesh/manifests';
import type { Finding, LoadedObject } from '@cns/mesh/model';
import { UserError } from './errors';
import { GATEWAY_API_GROUP } from '@cns/mesh/gateway-api';
import { isIstioObject, type IstioObject } from './kube';

export type FileObject = LoadedObject<IstioObject>;

/** The repository root: scripts/dist/.. or scripts/src/.. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** A path as the user should see it: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

export function sourceOf(loaded: LoadedObject): string {
  return loaded.source.line ? `${loaded.source.file}:${loaded.source.line}` : loaded.source.file;
}

/**
 * The order in which Istio and Gateway API objects can be applied without a moment where one refers to a missing
 * one (the mesh and `istioctl analyze` reject a VirtualService naming an unknown gateway or subset; an HTTPRoute
 * before its Gateway or ReferenceGrant is not Accepted / ResolvedRefs until they come); deletion runs it backwards.
 */
const APPLY_ORDER = [
  'Gateway',
  'ReferenceGrant',
  'DestinationRule',
  'ServiceEntry',
  'VirtualService',
  'HTTPRoute',
  'PeerAuthentication',
  'AuthorizationPolicy',
];

export function inApplyOrder<T extends { object: { kind: string } }>(objects: T[]): T[] {
  const rank = (kind: string): number => {
    const i = APPLY_ORDER.indexOf(kind);
    return i < 0 ? APPLY_ORDER.length : i;
  };
  return [...objects].sort((a, b) => rank(a.object.kind) - rank(b.object.kind)); // stable: file order within a kind
}

export function inDeleteOrder<T extends { object: { kind: string } }>(objects: T[]): T[] {
  return inApplyOrder(objects).reverse();
}

export function label(object: { kind: string; metadata: { name: string } }): string {
  return `${object.kind}/${object.metadata.name}`;
}

/** One line for the first error finding, counting the others. */
function findingsError(findings: Finding[]): UserError {
  const errors = findings.filter((f) => f.severity === 'error');
  const first = errors[0]!;
  const where = first.line ? `${first.file}:${first.line}` : first.file;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? 's' : ''})` : '';
  return new UserError(`${where}: ${first.object ? `${first.object}: ` : ''}${first.code} ${first.message}${more}`);
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`${displayPath(file)}: no such file`);
    if (code === 'EISDIR') throw new UserError(`${displayPath(file)}: is a folder, give the YAML files in it`);
    throw new UserError(`${displayPath(file)}: cannot read: ${code ?? String(err)}`);
  }
}

/** Objects of the given files, in order. Throws before returning anything if one file is bad. */
export function loadFiles(files: string[]): FileObject[] {
  if (files.length === 0) throw new UserError('no file given: pass -f FILE (one or more)');
  return files.flatMap((file) => {
    const absolute = path.resolve(file);
    const parsed = parseManifestText(readText(absolute), displayPath(absolute));
    if (parsed.findings.some((f) => f.severity === 'error')) throw findingsError(parsed.findings);
    if (parsed.objects.length === 0) throw new UserError(`${displayPath(absolute)}: no Kubernetes object in the file`);
    return parsed.objects as FileObject[];
  });
}

/** The files of a folder: its kustomization's `resources` (files and sub-folders), else every YAML file. */
export function folderFiles(dir: string): string[] {
  const kustomization = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].map((name) => path.join(dir, name)).find((file) => fs.existsSync(file));
  if (!kustomization) {
    if (!fs.existsSync(dir)) throw new UserError(`${displayPath(dir)}: no such folder`);
    return fs
      .readdirSync(dir)
      .filter((name) => /\.ya?ml$/.test(name))
      .sort()
      .map((name) => path.join(dir, name));
  }
  let config: { resources?: unknown } | null;
  try {
    config = parseYaml(readText(kustomization)) as { resources?: unknown } | null;
  } catch (err) {
    throw new UserError(`${displayPath(kustomization)}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const resources = Array.isArray(config?.resources) ? (config.resources as unknown[]) : [];
  return resources.flatMap((entry) => {
    const resolved = path.join(dir, String(entry));
    return fs.existsSync(resolved) && fs.statSync(resolved).isDirectory() ? folderFiles(resolved) : [resolved];
  });
}

/** `k8s/` and `istio/base/`: what deploy applies and undeploy removes. */
/**
 * The base set a file is applied over: k8s/ + istio/base, or k8s/ + gateway-api/base (whose Services join the
 * workloads) for the Gateway API files.
 */
export function projectObjects(root = REPO_ROOT, gatewayApi = false): { workloads: FileObject[]; istio: FileObject[] } {
  if (gatewayApi) {
    const base = loadFiles(folderFiles(path.join(root, 'gateway-api', 'base')));
    return {
      workloads: [...loadFiles(folderFiles(path.join(root, 'k8s'))), ...base.filter((o) => !isConfigObject(o.object))],
      istio: base.filter((o) => isConfigObject(o.object)),
    };
  }
  return {
    workloads: loadFiles(folderFiles(path.join(root, 'k8s'))),
    istio: loadFiles(folderFiles(path.join(root, 'istio', 'base'))),
  };
}

/** Istio and Gateway API objects: what apply/remove send. */
export function isConfigObject(object: { apiVersion: string; kind: string }): boolean {
  return isIstioObject(object) || object.apiVersion.startsWith(`${GATEWAY_API_GROUP}/`);
}

/** Whether files route with the Gateway API (then gateway-api/base is their base set). */
export function usesGatewayApi(objects: FileObject[]): boolean {
  return objects.some((o) => o.object.apiVersion.startsWith(`${GATEWAY_API_GROUP}/`) || /(^|[\\/])gateway-api[\\/]/.test(o.source.file));
}

/** Only Istio and Gateway API objects may be sent with apply/remove -f; a Deployment there is a mistake worth naming. */
export function requireIstioObjects(objects: FileObject[]): void {
  const other = objects.find((o) => !isConfigObject(o.object));
  if (other) {
    throw new UserError(
      `${sourceOf(other)}: ${other.object.apiVersion} ${other.object.kind} is not an Istio object; apply/remove take ` +
        'Istio and Gateway API files (istio/traffic, istio/faults, istio/resilience, gateway-api/traffic, gateway-api/resilience), deploy handles k8s/',
    );
  }
}

/**
 * istioctl-analyze-style check of the files' objects on top of the project's base set (k8s/ + istio/base/), before
 * anything is sent. Like a cluster, it refuses only what Istio's API server refuses (schema and validation,
 * `refusedOnApply`); the analysis' other findings about the given objects (e.g. a subset no DestinationRule defines)
 * are returned as warnings to print. The live state may hold more (a later file may rely on an earlier one), so this
 * is a floor, and the target still validates too.
 */
export function analyzeOverBase(objects: FileObject[], base: FileObject[]): Finding[] {
  const files = new Set(objects.map((o) => o.source.file));
  const findings = analyzeManifests(mergeObjects(base, objects)).filter((f) => files.has(f.file));
  const refused = findings.filter(refusedOnApply);
  if (refused.length > 0) throw findingsError(refused);
  return findings;
}

export { formatFinding };

/** A finding the target accepts anyway, as kubectl prints an admission warning: `Warning: file:line: Kind/name: CODE message`. */
export function formatWarning(finding: Finding): string {
  const where = finding.line ? `${finding.file}:${finding.line}` : finding.file;
  return `Warning: ${where}: ${finding.object ? `${finding.object}: ` : ''}${finding.code} ${finding.message}`;
}
