#!/usr/bin/env node
/**
 * `npm run build` step after `tsc -b`: removes build outputs whose source is gone. tsc never deletes an output, so
 * after a source moves (e.g. `commands.ts` → `commands/index.ts`) the old `dist/commands.js` stays and, being a
 * file, wins over the new folder in Node's resolution: an updated clone would run the old code until `dist/` was
 * deleted by hand.
 */
import fs from 'node:fs';
import path from 'node:path';

/** What tsc emits for a `.ts` source (declarations and source maps included). */
const OUTPUT = /^(.*?)(\.d)?\.js(\.map)?$|^(.*?)\.d\.ts(\.map)?$/;

interface ProjectDirs {
  rootDir: string;
  outDir: string;
}

interface TsConfig {
  references?: Array<{ path: string }>;
  compilerOptions?: { rootDir?: string; outDir?: string };
}

/** A tsconfig as JSON (ours have no comments); one that is not is named, and its project left alone. */
function readJson(file: string): TsConfig {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as TsConfig;
  } catch (err) {
    console.warn(`build: ${file}: not read (${(err as Error).message}); its stale outputs are not pruned`);
    return {};
  }
}

/** The rootDir/outDir pairs of the projects the root tsconfig.json references (those that emit). */
export function projectDirs(repoRoot: string): ProjectDirs[] {
  const root = readJson(path.join(repoRoot, 'tsconfig.json'));
  return (root.references ?? []).flatMap((ref) => {
    const dir = path.resolve(repoRoot, ref.path);
    const options = readJson(path.join(dir, 'tsconfig.json')).compilerOptions ?? {};
    return options.rootDir && options.outDir ? [{ rootDir: path.resolve(dir, options.rootDir), outDir: path.resolve(dir, options.outDir) }] : [];
  });
}

function filesBelow(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesBelow(full) : [full];
  });
}

/** The outputs under outDir without a `.ts` source under rootDir; other files (tsbuildinfo, copied assets) are kept. */
export function staleOutputs({ rootDir, outDir }: ProjectDirs): string[] {
  return filesBelow(outDir).filter((file) => {
    const match = OUTPUT.exec(path.relative(outDir, file));
    if (!match) return false;
    const stem = match[1] ?? match[4]!;
    return !fs.existsSync(path.join(rootDir, `${stem}.ts`));
  });
}

/** Removes the stale outputs of every project; returns them (repository-relative). */
export function pruneDist(repoRoot: string): string[] {
  const removed = projectDirs(repoRoot).flatMap((project) => staleOutputs(project));
  for (const file of removed) fs.rmSync(file);
  return removed.map((file) => path.relative(repoRoot, file));
}

if (require.main === module) {
  const removed = pruneDist(path.resolve(__dirname, '..', '..'));
  if (removed.length > 0) console.log(`build: removed ${removed.length} output(s) whose source is gone: ${removed.join(', ')}`);
}
