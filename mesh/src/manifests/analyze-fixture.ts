/**
 * The broken fixtures of the manifest analysis (mesh/test/fixtures/manifests) and the repository's base set they
 * are applied on top of, shared by analyze-fixtures.test.ts and analyze-apply.test.ts. A test helper: left out of
 * dist/ (mesh/tsconfig.json).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Finding } from '../model';
import { analyzeManifests } from './analyze';
import { loadManifestFiles } from './load';
import { mergeObjects } from './merge';

export const root = path.resolve(__dirname, '../../..');
const fixtures = 'mesh/test/fixtures/manifests';
export const base = loadManifestFiles(['k8s', 'istio/base'], { root });

/** Findings of `fixture` applied on top of the base set (or alone), restricted to the fixture's own file. */
export function analyzeFixture(fixture: string, options: { alone?: boolean } = {}): Finding[] {
  const file = path.join(fixtures, fixture);
  const overlay = loadManifestFiles([file], { root });
  const set = options.alone ? overlay.objects : mergeObjects(base.objects, overlay.objects);
  return [...overlay.findings, ...analyzeManifests(set)].filter((f) => f.file === file);
}

/** 1-based line of the first line of the fixture containing `text`, so expectations never hard-code lines. */
export function lineContaining(fixture: string, text: string): number {
  const lines = fs.readFileSync(path.join(root, fixtures, fixture), 'utf8').split('\n');
  const index = lines.findIndex((l) => l.includes(text));
  if (index === -1) throw new Error(`${text} not in ${fixture}`);
  return index + 1;
}
