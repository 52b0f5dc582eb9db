/**
 * The repository's own manifests as one analysis: the base set (k8s/ + istio/base/) on its own, then every
 * optional istio file applied on top of it (replacing base objects with the same identity, as `kubectl apply`
 * and the local mesh do), plus every service's Dockerfile.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Finding } from '../model';
import { analyzeManifests, checkDuplicates, sortFindings } from './analyze';
import { analyzeDockerfiles, findDockerfiles } from './dockerfile';
import { listManifestFiles, loadManifestFiles } from './load';
import { mergeObjects } from './merge';

/** What a fresh deployment and the local mesh start from. */
export const BASE_PATHS = ['k8s', 'istio/base'];
/** Where the optional files live: every manifest here outside the base paths is one overlay. */
export const OVERLAY_ROOT = 'istio';
/** The Gateway API set: k8s/ + gateway-api/base/, then each file elsewhere under gateway-api/ on top of it. */
export const GATEWAY_API_ROOT = 'gateway-api';

export interface RepositoryAnalysis {
  findings: Finding[];
  /** Optional files that were each analyzed on top of the base (relative to root). */
  overlays: string[];
  dockerfiles: string[];
}

export interface RepositoryOptions {
  root?: string;
  base?: string[];
  /** Overlay files or directories; default: every manifest under istio/ outside the base. */
  overlays?: string[];
  /** Dockerfiles; default: `*\/Dockerfile` under root. */
  dockerfiles?: string[];
}

export function analyzeRepository(options: RepositoryOptions = {}): RepositoryAnalysis {
  const root = path.resolve(options.root ?? process.cwd());
  const basePaths = options.base ?? BASE_PATHS;
  const base = loadManifestFiles(basePaths, { root });
  const findings: Finding[] = [...base.findings, ...analyzeManifests(base.objects)];

  const overlayFiles = options.overlays ? listManifestFiles(options.overlays.map((p) => path.resolve(root, p))) : defaultOverlays(root, basePaths);
  for (const file of overlayFiles) {
    const overlay = loadManifestFiles([file], { root });
    findings.push(...overlay.findings, ...checkDuplicates(overlay.objects));
    findings.push(...analyzeManifests(mergeObjects(base.objects, overlay.objects)));
  }

  // The Gateway API alternative to istio/base, with its own optional files, when the caller did not pick the sets.
  const gatewayApiRoot = path.join(root, GATEWAY_API_ROOT);
  const defaultBase = !options.base || options.base.join(',') === BASE_PATHS.join(',');
  if (defaultBase && !options.overlays && fs.existsSync(path.join(gatewayApiRoot, 'base'))) {
    const gwBase = loadManifestFiles(['k8s', `${GATEWAY_API_ROOT}/base`], { root });
    findings.push(...gwBase.findings, ...analyzeManifests(gwBase.objects));
    for (const file of listManifestFiles([gatewayApiRoot]).filter((f) => !f.startsWith(path.join(gatewayApiRoot, 'base') + path.sep))) {
      const overlay = loadManifestFiles([file], { root });
      findings.push(...overlay.findings, ...checkDuplicates(overlay.objects), ...analyzeManifests(mergeObjects(gwBase.objects, overlay.objects)));
      overlayFiles.push(file);
    }
  }

  const dockerfiles = options.dockerfiles ?? findDockerfiles(root);
  findings.push(...analyzeDockerfiles(dockerfiles, { root }));
  return {
    findings: sortFindings(unique(findings)),
    overlays: overlayFiles.map((f) => path.relative(root, f)),
    dockerfiles: dockerfiles.map((f) => path.relative(root, path.resolve(root, f))),
  };
}

function defaultOverlays(root: string, basePaths: string[]): string[] {
  const overlayRoot = path.join(root, OVERLAY_ROOT);
  if (!fs.existsSync(overlayRoot)) return [];
  const baseDirs = basePaths.map((p) => path.resolve(root, p));
  return listManifestFiles([overlayRoot]).filter((file) => !baseDirs.some((dir) => file === dir || file.startsWith(dir + path.sep)));
}

function unique(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.code}|${f.file}|${f.line}|${f.object}|${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** One finding as a line: `file: Kind/name: CODE message (line N)`. */
export function formatFinding(finding: Finding): string {
  const where = finding.line ? ` (line ${finding.line})` : '';
  const severity = finding.severity === 'warning' ? 'warning: ' : '';
  return `${finding.file}: ${finding.object ?? '-'}: ${finding.code} ${severity}${finding.message}${where}`;
}
