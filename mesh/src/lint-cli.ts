#!/usr/bin/env node
/**
 * `npm run lint:manifests [-- PATHS...]`: schema and cross-reference analysis of the manifests (like
 * `istioctl analyze`, offline) plus the Dockerfile rules. Prints one `file: Kind/name: CODE message` line per
 * finding and exits 1 when there is any.
 *
 * Without paths it checks the repository: k8s/ + istio/base/ as the base set, every other file under istio/
 * applied on top of the base one at a time, and every service's Dockerfile. With paths, each given manifest file
 * (or every file in a given directory) is applied on top of the base the same way; `--no-base` analyzes the
 * given paths as one set of their own instead. Paths named `Dockerfile` or `*.Dockerfile` get the Dockerfile rules.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import {
  BASE_PATHS,
  FINDING_CODES,
  analyzeDockerfiles,
  analyzeManifests,
  analyzeRepository,
  formatFinding,
  loadManifestFiles,
  sortFindings,
} from './manifests';
import type { Finding } from './model';

const isDockerfile = (file: string): boolean => /(^|[./])Dockerfile$/.test(path.basename(file));

/** Where the CLI writes: stdout gets the findings, stderr the summary and usage errors. */
export interface LintOutput {
  out(line: string): void;
  err(text: string): void;
}

const processOutput: LintOutput = {
  out: (line) => console.log(line),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/** Runs the CLI on `argv` (as in process.argv) and returns the exit code: 0 clean, 1 findings, 2 usage error. */
export function runLint(argv: string[], output: LintOutput = processOutput): number {
  const program = new Command()
    .name('lint-manifests')
    .description('Analyze Kubernetes/Istio manifests and Dockerfiles; exit 1 on findings')
    .argument('[paths...]', 'manifest files or directories (default: the whole repository)')
    .option('--root <dir>', 'repository root that paths are relative to', process.cwd())
    .option('--base <paths>', 'comma-separated base set the files are applied on', BASE_PATHS.join(','))
    .option('--no-base', 'analyze the given paths as one set, without the base')
    .option('--codes', 'list every finding code with its meaning')
    .option('--quiet', 'print findings only, no summary line')
    .exitOverride()
    .configureOutput({ writeErr: (text) => output.err(text), writeOut: (text) => output.out(text.trimEnd()) });
  try {
    program.parse(argv);
  } catch (error) {
    const code = (error as { exitCode?: number }).exitCode;
    return code === 0 ? 0 : 2;
  }
  const options = program.opts<{ root: string; base: string | false; codes?: boolean; quiet?: boolean }>();
  if (options.codes) {
    for (const [code, meaning] of Object.entries(FINDING_CODES)) output.out(`${code}  ${meaning}`);
    return 0;
  }
  const root = path.resolve(options.root);
  const paths: string[] = program.args;
  const missing = paths.filter((p) => !fs.existsSync(path.resolve(root, p)));
  if (missing.length > 0) {
    output.err(`lint-manifests: not found: ${missing.join(', ')}`);
    return 2;
  }

  let findings: Finding[];
  let summary: string;
  if (paths.length === 0) {
    const result = analyzeRepository({ root, base: options.base ? splitList(options.base) : [] });
    findings = result.findings;
    summary = `base + ${result.overlays.length} optional files, ${result.dockerfiles.length} Dockerfiles`;
  } else {
    const dockerfiles = paths.filter(isDockerfile);
    const manifests = paths.filter((p) => !isDockerfile(p));
    findings = analyzeDockerfiles(dockerfiles, { root });
    if (options.base === false) {
      const loaded = loadManifestFiles(manifests, { root });
      findings.push(...loaded.findings, ...analyzeManifests(loaded.objects));
      summary = `${manifests.length} paths as one set`;
    } else if (manifests.length > 0) {
      const result = analyzeRepository({ root, base: splitList(options.base), overlays: manifests, dockerfiles: [] });
      findings.push(...result.findings);
      summary = `${result.overlays.length} files on top of ${options.base}`;
    } else {
      summary = `${dockerfiles.length} Dockerfiles`;
    }
    findings = sortFindings(findings);
  }

  for (const finding of findings) output.out(formatFinding(finding));
  if (!options.quiet) {
    const errors = findings.filter((f) => f.severity === 'error').length;
    output.err(`${findings.length === 0 ? 'no findings' : `${errors} errors, ${findings.length - errors} warnings`} (${summary})`);
  }
  return findings.length > 0 ? 1 : 0;
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

if (require.main === module) process.exitCode = runLint(process.argv);
