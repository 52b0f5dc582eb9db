/**
 * Reads Kubernetes/Istio manifests (multi-document YAML or JSON) into LoadedObjects that remember where they came
 * from. Syntax problems become findings with a line number instead of exceptions, so one broken file never hides
 * the others.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LineCounter, parseAllDocuments, isMap, isScalar, isSeq, type Document, type Node } from 'yaml';
import type { Finding, K8sObject, LoadedObject } from '../model';

export const YAML_SYNTAX = 'CNS0001';
export const NOT_AN_OBJECT = 'CNS0002';

export interface LoadResult {
  objects: LoadedObject[];
  findings: Finding[];
}

/** Finds the line of a field inside an object's source document (for schema findings that name a field). */
type Locator = (fieldPath: ReadonlyArray<string | number>) => number | undefined;

// Keyed by the parsed object, so a LoadedObject passed around (or merged into another set) keeps its locator.
const locators = new WeakMap<object, Locator>();

/** 1-based line of `fieldPath` inside the object (or of its nearest existing parent), when it was parsed here. */
export function lineOf(object: K8sObject, fieldPath: ReadonlyArray<string | number>): number | undefined {
  return locators.get(object)?.(fieldPath);
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml']);
const SKIPPED_FILES = new Set(['kustomization.yaml', 'kustomization.yml', 'Kustomization']);

/** Every manifest file under `paths` (files are taken as given; directories recursively, sorted). */
export function listManifestFiles(paths: string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (MANIFEST_EXTENSIONS.has(path.extname(entry.name)) && !SKIPPED_FILES.has(entry.name)) files.push(full);
    }
  };
  for (const p of paths) {
    if (fs.statSync(p).isDirectory()) walk(p);
    else files.push(p);
  }
  return files;
}

/**
 * Loads manifest files or directories (recursive `*.yaml`/`*.yml`, skipping `kustomization.yaml`).
 * Paths in findings and sources are relative to `root` (default: the current directory).
 */
export function loadManifestFiles(paths: string[], options: { root?: string } = {}): LoadResult {
  const root = path.resolve(options.root ?? process.cwd());
  const result: LoadResult = { objects: [], findings: [] };
  const absolute = paths.map((p) => path.resolve(root, p));
  for (const p of absolute) {
    if (!fs.existsSync(p)) {
      result.findings.push({
        code: NOT_AN_OBJECT,
        severity: 'error',
        file: path.relative(root, p) || p,
        message: 'file or directory not found',
      });
    }
  }
  for (const file of listManifestFiles(absolute.filter((p) => fs.existsSync(p)))) {
    const parsed = parseManifestText(fs.readFileSync(file, 'utf8'), path.relative(root, file));
    result.objects.push(...parsed.objects);
    result.findings.push(...parsed.findings);
  }
  return result;
}

/**
 * Parses manifest text received over an API or read from a file: YAML or JSON, one or several documents, a JSON
 * array or a `kind: List` of objects. `file` names the text in findings.
 */
export function parseManifestText(text: string, file: string): LoadResult {
  const result: LoadResult = { objects: [], findings: [] };
  const lineCounter = new LineCounter();
  const lineAt = (offset: number | undefined): number | undefined => (offset === undefined ? undefined : lineCounter.linePos(offset).line);
  let documents: Document.Parsed[];
  try {
    documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true }) as Document.Parsed[];
  } catch (error) {
    result.findings.push({ code: YAML_SYNTAX, severity: 'error', file, message: `YAML: ${(error as Error).message}` });
    return result;
  }
  if (!Array.isArray(documents)) documents = [documents];

  for (const doc of documents) {
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        result.findings.push({
          code: YAML_SYNTAX,
          severity: 'error',
          file,
          line: lineAt(error.pos[0]),
          message: `YAML syntax error: ${firstLine(error.message)}`,
        });
      }
      continue;
    }
    if (doc.contents === null) continue; // empty document, e.g. a trailing `---`
    const docLine = lineAt(doc.contents.range?.[0]);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // e.g. alias expansion over the limit (a "billion laughs" document)
      result.findings.push({ code: YAML_SYNTAX, severity: 'error', file, line: docLine, message: `YAML: ${firstLine((error as Error).message)}` });
      continue;
    }
    if (value === null || value === undefined) continue;

    // A JSON array or a `kind: List` holds several objects; each item is located through its index.
    const items: Array<{ value: unknown; node: unknown; prefix: Array<string | number> }> = [];
    if (Array.isArray(value)) {
      value.forEach((item, i) => items.push({ value: item, node: doc.getIn([i], true), prefix: [i] }));
    } else if (isPlainObject(value) && value.kind === 'List' && Array.isArray(value.items)) {
      value.items.forEach((item, i) => items.push({ value: item, node: doc.getIn(['items', i], true), prefix: ['items', i] }));
    } else {
      items.push({ value, node: doc.contents, prefix: [] });
    }

    for (const item of items) {
      const line = lineAt((item.node as Node | undefined)?.range?.[0]) ?? docLine;
      const problem = describeShapeProblem(item.value);
      if (problem) {
        result.findings.push({ code: NOT_AN_OBJECT, severity: 'error', file, line, message: problem });
        continue;
      }
      const object = item.value as K8sObject;
      const root = item.node as Node | undefined;
      locators.set(object, (fieldPath) => {
        // Walk down as far as the path exists, so a missing field is reported at its parent. A map entry is
        // located by its key (`retries:`), a list item by the item.
        let best = line;
        let node: unknown = root;
        for (const segment of fieldPath) {
          let keyLine: number | undefined;
          if (isMap(node)) {
            const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === segment);
            if (!pair) break;
            keyLine = lineAt((pair.key as Node | null)?.range?.[0]);
            node = pair.value;
          } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
            node = node.items[segment];
            keyLine = lineAt((node as Node | null)?.range?.[0]);
          } else {
            break;
          }
          best = keyLine ?? best;
        }
        return best;
      });
      result.objects.push({ object, source: { file, line } });
    }
  }
  return result;
}

/** Why a parsed value cannot be a Kubernetes object, or undefined when it has the minimal shape. */
function describeShapeProblem(value: unknown): string | undefined {
  if (!isPlainObject(value)) return `document is not an object (got ${Array.isArray(value) ? 'a list' : typeof value})`;
  const missing = ['apiVersion', 'kind'].filter((key) => typeof value[key] !== 'string' || value[key] === '');
  if (missing.length > 0) return `object has no ${missing.join(' and ')}`;
  const metadata = value.metadata;
  if (!isPlainObject(metadata) || typeof metadata.name !== 'string' || metadata.name === '') {
    return `${String(value.kind)} has no metadata.name`;
  }
  return undefined;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}
