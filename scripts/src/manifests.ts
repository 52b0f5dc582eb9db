/**
 * Reads the YAML the commands send: files given with -f, and the k8s/ and istio/base/ folders (their
 * kustomization `resources` in order, else every *.yaml). Everything is read and checked before the first API
 * call, so a missing file or invalid YAML changes nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, LineCounter } from 'yaml';
import { UserError } from './errors';
import { isIstioObject, type IstioObject } from './kube';

export interface FileObject {
  object: IstioObject;
  /** `file:line` for messages, the file relative to the working directory. */
  source: string;
}

/** The repository root: scripts/dist/.. or scripts/src/.. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

function relative(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

/** Parses one YAML stream into objects, failing on syntax errors or documents that are not objects. */
export function parseObjects(text: string, file: string): FileObject[] {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const docs = Array.isArray(documents) ? documents : [documents];
  const objects: FileObject[] = [];
  for (const doc of docs) {
    const where = (offset: number | undefined): string =>
      `${relative(file)}:${offset === undefined ? 1 : lineCounter.linePos(offset).line}`;
    if (doc.errors.length > 0) {
      const error = doc.errors[0]!;
      throw new UserError(`${where(error.pos[0])}: invalid YAML: ${error.message.split('\n')[0]}`);
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue; // an empty document (comments, a trailing ---)
    const line = where(doc.contents?.range?.[0]);
    const candidate = value as Partial<IstioObject>;
    if (
      typeof value !== 'object' ||
      Array.isArray(value) ||
      typeof candidate.apiVersion !== 'string' ||
      typeof candidate.kind !== 'string' ||
      typeof candidate.metadata?.name !== 'string'
    ) {
      throw new UserError(`${line}: not a Kubernetes object (it needs apiVersion, kind and metadata.name)`);
    }
    objects.push({ object: candidate as IstioObject, source: line });
  }
  return objects;
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`${relative(file)}: no such file`);
    if (code === 'EISDIR') throw new UserError(`${relative(file)}: is a folder, give the YAML files in it`);
    throw new UserError(`${relative(file)}: cannot read: ${code ?? String(err)}`);
  }
}

/** Objects of the given files, in order. Throws before returning anything if one file is bad. */
export function loadFiles(files: string[]): FileObject[] {
  if (files.length === 0) throw new UserError('no file given: pass -f FILE (one or more)');
  const objects = files.flatMap((file) => {
    const found = parseObjects(readText(path.resolve(file)), path.resolve(file));
    if (found.length === 0) throw new UserError(`${file}: no Kubernetes object in the file`);
    return found;
  });
  return objects;
}

/** The files of a folder: its kustomization's `resources` (files and sub-folders), else every YAML file. */
export function folderFiles(dir: string): string[] {
  const kustomization = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']
    .map((name) => path.join(dir, name))
    .find((file) => fs.existsSync(file));
  if (!kustomization) {
    if (!fs.existsSync(dir)) throw new UserError(`${relative(dir)}: no such folder`);
    return fs
      .readdirSync(dir)
      .filter((name) => /\.ya?ml$/.test(name))
      .sort()
      .map((name) => path.join(dir, name));
  }
  const [config] = parseObjects(readText(kustomization), kustomization).map((o) => o.object) as Array<{
    resources?: unknown;
  }>;
  const resources = Array.isArray(config?.resources) ? (config.resources as unknown[]) : [];
  return resources.flatMap((entry) => {
    const resolved = path.join(dir, String(entry));
    return fs.existsSync(resolved) && fs.statSync(resolved).isDirectory() ? folderFiles(resolved) : [resolved];
  });
}

/** `k8s/` and `istio/base/`: what deploy applies and undeploy removes. */
export function projectObjects(root = REPO_ROOT): { workloads: FileObject[]; istio: FileObject[] } {
  return {
    workloads: loadFiles(folderFiles(path.join(root, 'k8s'))),
    istio: loadFiles(folderFiles(path.join(root, 'istio', 'base'))),
  };
}

/** Only Istio objects may be sent with apply/remove -f; a Deployment there is a mistake worth naming. */
export function requireIstioObjects(objects: FileObject[]): void {
  const other = objects.find((o) => !isIstioObject(o.object));
  if (other) {
    throw new UserError(
      `${other.source}: ${other.object.apiVersion} ${other.object.kind} is not an Istio object; apply/remove take ` +
        'Istio files (istio/traffic, istio/faults, istio/resilience), deploy handles k8s/',
    );
  }
}

export function label(object: IstioObject): string {
  return `${object.kind}/${object.metadata.name}`;
}
