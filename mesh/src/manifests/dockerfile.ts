/**
 * Static checks of Dockerfiles (images cannot be built on the project's machines): the final stage must not run
 * as root, the build must be multi-stage, base images must be pinned, and the runtime stage must not install dev
 * dependencies or copy tests.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Finding } from '../model';

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  image: string;
  name?: string;
  line: number;
  instructions: Instruction[];
}

/** Base images whose default user is not root, so a final stage without USER is still unprivileged. */
const NON_ROOT_IMAGES = [/^nginxinc\/nginx-unprivileged(:|@|$)/, /^gcr\.io\/distroless\/.*:nonroot/, /^cgr\.dev\/chainguard\//];

/** Splits a Dockerfile into instructions (joining `\` continuations, dropping comments) with their first line. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  let current: { text: string; line: number } | undefined;
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    if (!current && (trimmed === '' || trimmed.startsWith('#'))) return;
    if (current && trimmed.startsWith('#')) return; // comment lines inside a continuation are ignored by Docker
    const continues = trimmed.endsWith('\\');
    const part = continues ? trimmed.slice(0, -1).trimEnd() : trimmed;
    current = current ? { text: `${current.text} ${part}`, line: current.line } : { text: part, line: i + 1 };
    if (!continues) {
      const match = /^(\S+)\s*(.*)$/.exec(current.text.trim());
      if (match) instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: current.line });
      current = undefined;
    }
  });
  if (current) {
    const match = /^(\S+)\s*(.*)$/.exec(current.text.trim());
    if (match) instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: current.line });
  }
  return instructions;
}

/**
 * Findings for one Dockerfile's text; `file` names it in findings. With `context` (the build context directory),
 * every `COPY`/`ADD` source outside another stage must exist there: images cannot be built here, so a renamed
 * file would otherwise only show up in someone's `docker build`.
 */
export function analyzeDockerfile(text: string, file: string, options: { context?: string } = {}): Finding[] {
  const findings: Finding[] = [];
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of parseDockerfile(text)) {
    if (instruction.keyword === 'ARG' && stages.length === 0) {
      const [name, value] = instruction.args.split('=', 2);
      if (name && value !== undefined) args.set(name.trim(), value.trim().replace(/^"(.*)"$/, '$1'));
    } else if (instruction.keyword === 'FROM') {
      const parts = instruction.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      const image = (parts[0] ?? '').replace(/\$\{?(\w+)\}?/g, (_, name: string) => args.get(name) ?? '');
      const asIndex = parts.findIndex((p) => p.toUpperCase() === 'AS');
      stages.push({ image, name: asIndex > 0 ? parts[asIndex + 1] : undefined, line: instruction.line, instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1]!.instructions.push(instruction);
    }
  }
  const stageRef = (stage: Stage | undefined): string => `Dockerfile/${stage?.name ?? 'final'}`;
  const finding = (code: string, message: string, line: number | undefined, stage?: Stage, severity: Finding['severity'] = 'error'): void => {
    findings.push({ code, severity, file, line, object: stageRef(stage), message });
  };
  if (stages.length === 0) {
    finding('CNS0202', 'no FROM instruction: not a Dockerfile', 1);
    return findings;
  }

  const stageNames = new Set(stages.map((s) => s.name?.toLowerCase()).filter(Boolean));
  for (const stage of stages) {
    if (stageNames.has(stage.image.toLowerCase()) || stage.image === 'scratch') continue;
    const tag = /^[^@]+:([^/:@]+)$/.exec(stage.image)?.[1];
    if (!stage.image.includes('@sha256:') && (!tag || tag === 'latest' || !/\d/.test(tag))) {
      finding('CNS0203', `base image ${stage.image} is not pinned to a version (use e.g. node:20.20.2-bookworm-slim or a digest)`, stage.line, stage);
    }
  }

  const final = stages[stages.length - 1]!;
  if (stages.length < 2) {
    finding(
      'CNS0202',
      'no multi-stage build: build tools and sources end up in the image; build in one stage and copy only the output into a slim runtime stage',
      final.line,
      final,
    );
  }

  const users = final.instructions.filter((i) => i.keyword === 'USER');
  const lastUser = users[users.length - 1];
  if (lastUser) {
    const user = lastUser.args.split(':')[0]!.trim();
    if (user === 'root' || user === '0') {
      finding('CNS0201', `the final stage runs as root (USER ${lastUser.args}); use a non-root user such as USER node or a numeric UID`, lastUser.line, final);
    }
  } else if (!NON_ROOT_IMAGES.some((pattern) => pattern.test(final.image))) {
    finding('CNS0201', `the final stage runs as root: no USER instruction and ${final.image} starts as root`, final.line, final);
  }

  if (options.context) {
    for (const stage of stages) {
      for (const instruction of stage.instructions) {
        for (const source of missingSources(instruction, options.context)) {
          finding('CNS0205', `${instruction.keyword} source ${source} does not exist in the build context`, instruction.line, stage);
        }
      }
    }
  }

  if (options.context) {
    for (const instruction of final.instructions) {
      for (const reason of testsCopied(instruction, options.context)) finding('CNS0207', reason, instruction.line, final);
    }
  }

  for (const instruction of final.instructions) {
    if (instruction.keyword !== 'RUN') continue;
    const installs = /\bnpm\s+(ci|install|i)\b/.test(instruction.args) && !/--omit[= ]dev|--production\b|--only[= ]prod/.test(instruction.args);
    if (installs) {
      finding('CNS0204', `the final stage installs dev dependencies (${instruction.args.slice(0, 60)}); use npm ci --omit=dev`, instruction.line, final);
    }
  }
  return findings;
}

/** Sources of a COPY/ADD from the build context (not `--from` another stage, not URLs) that do not exist. */
function missingSources(instruction: Instruction, context: string): string[] {
  if (instruction.keyword !== 'COPY' && instruction.keyword !== 'ADD') return [];
  const words = instruction.args.startsWith('[') ? (safeJsonArray(instruction.args) ?? []) : instruction.args.split(/\s+/).filter(Boolean);
  if (words.some((w) => w.startsWith('--from='))) return [];
  const paths = words.filter((w) => !w.startsWith('--'));
  const sources = paths.slice(0, -1); // the last word is the destination
  return sources.filter((source) => !/[*?[]|\$|^[a-z]+:\/\//i.test(source) && !fs.existsSync(path.resolve(context, source)));
}

/**
 * Why a final-stage COPY puts tests into the image: a compiled `<workspace>/dist` whose tsconfig does not exclude
 * `*.test.ts` (tsc would emit them there), or a context folder that holds test files.
 */
function testsCopied(instruction: Instruction, context: string): string[] {
  if (instruction.keyword !== 'COPY' && instruction.keyword !== 'ADD') return [];
  const words = instruction.args.split(/\s+/).filter(Boolean);
  const sources = words.filter((w) => !w.startsWith('--')).slice(0, -1);
  if (words.some((w) => w.startsWith('--from='))) {
    return sources.flatMap((source) => {
      const workspace = /([^/]+)\/dist\/?$/.exec(source)?.[1];
      const tsconfig = workspace ? path.join(context, workspace, 'tsconfig.json') : undefined;
      if (!tsconfig || !fs.existsSync(tsconfig)) return [];
      const config = safeJson(fs.readFileSync(tsconfig, 'utf8')) as { exclude?: unknown; compilerOptions?: { noEmit?: boolean } } | undefined;
      if (config?.compilerOptions?.noEmit) return []; // built by a bundler from its entry, not by tsc
      const excludesTests = Array.isArray(config?.exclude) && config.exclude.some((pattern) => typeof pattern === 'string' && pattern.endsWith('*.test.ts'));
      return excludesTests ? [] : [`${source} is compiled from ${workspace}/tsconfig.json, which does not exclude *.test.ts: the tests end up in the image`];
    });
  }
  return sources.filter((source) => holdsTests(path.resolve(context, source))).map((source) => `${source} holds test files: they end up in the image`);
}

function holdsTests(file: string): boolean {
  if (!fs.existsSync(file)) return false;
  if (!fs.statSync(file).isDirectory()) return /\.(test|spec)\.[cm]?[jt]s$/.test(file);
  return fs
    .readdirSync(file, { withFileTypes: true })
    .some((entry) => entry.name !== 'node_modules' && (entry.name === 'test' || holdsTests(path.join(file, entry.name))));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function safeJsonArray(text: string): string[] | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.map(String) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads and checks Dockerfiles; paths in findings relative to `root` (default: the current directory), which is
 * also the build context every image of this repository is built from.
 */
export function analyzeDockerfiles(files: string[], options: { root?: string } = {}): Finding[] {
  const root = path.resolve(options.root ?? process.cwd());
  return files.flatMap((file) => {
    const absolute = path.resolve(root, file);
    const relative = path.relative(root, absolute);
    const findings = analyzeDockerfile(fs.readFileSync(absolute, 'utf8'), relative, { context: root });
    // BuildKit reads `<Dockerfile>.dockerignore` beside the Dockerfile, else `.dockerignore` at the context root.
    if (!fs.existsSync(`${absolute}.dockerignore`) && !fs.existsSync(path.join(root, '.dockerignore'))) {
      findings.push({
        code: 'CNS0206',
        severity: 'error',
        file: relative,
        object: 'Dockerfile/final',
        message: `no ${path.basename(absolute)}.dockerignore beside it and no .dockerignore in the build context: the whole repository, node_modules included, is sent to the builder`,
      });
    }
    return findings;
  });
}

/** `<dir>/Dockerfile` of every direct subfolder of `root` that has one (the services' images). */
export function findDockerfiles(root: string): string[] {
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name !== 'node_modules' && !entry.name.startsWith('.'))
    .map((entry) => path.join(root, entry.name, 'Dockerfile'))
    .filter((file) => fs.existsSync(file))
    .sort();
}
