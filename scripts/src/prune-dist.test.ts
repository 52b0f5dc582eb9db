import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pruneDist } from './prune-dist';

/** A repository with one emitting project (`pkg`: src → dist) and one without outDir (`types`). */
function makeRepo(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'prune-dist-'));
  const write = (file: string, text = ''): void => {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  };
  write('tsconfig.json', JSON.stringify({ files: [], references: [{ path: './pkg' }, { path: './types' }] }));
  write('pkg/tsconfig.json', JSON.stringify({ compilerOptions: { rootDir: 'src', outDir: 'dist' } }));
  write('types/tsconfig.json', JSON.stringify({ compilerOptions: { noEmit: true } }));
  write('pkg/src/cli.ts');
  write('pkg/src/commands/index.ts');
  for (const out of ['cli.js', 'cli.js.map', 'cli.d.ts', 'cli.d.ts.map', 'commands/index.js', 'commands/index.d.ts', '.tsbuildinfo', 'page.html']) {
    write(`pkg/dist/${out}`);
  }
  // What the source was before it moved to commands/index.ts.
  for (const out of ['commands.js', 'commands.js.map', 'commands.d.ts', 'commands.d.ts.map']) write(`pkg/dist/${out}`);
  return root;
}

describe('pruneDist (npm run build, after tsc -b)', () => {
  let root: string;
  beforeEach(() => {
    root = makeRepo();
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it("removes the outputs of a source that moved, so Node no longer resolves './commands' to the old file", () => {
    const removed = pruneDist(root);
    expect(removed.sort()).toEqual(['pkg/dist/commands.d.ts', 'pkg/dist/commands.d.ts.map', 'pkg/dist/commands.js', 'pkg/dist/commands.js.map']);
    expect(fs.existsSync(path.join(root, 'pkg/dist/commands.js'))).toBe(false);
  });

  it('keeps the outputs of existing sources, the build info and files tsc does not emit', () => {
    pruneDist(root);
    const left = fs.readdirSync(path.join(root, 'pkg/dist'), { recursive: true }).map(String).sort();
    expect(left).toEqual(
      ['.tsbuildinfo', 'cli.d.ts', 'cli.d.ts.map', 'cli.js', 'cli.js.map', 'commands', 'commands/index.d.ts', 'commands/index.js', 'page.html'].sort(),
    );
  });

  it('a second run removes nothing', () => {
    pruneDist(root);
    expect(pruneDist(root)).toEqual([]);
  });
});
