import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { analyzeDockerfile, analyzeDockerfiles, parseDockerfile } from './dockerfile';

const root = path.resolve(__dirname, '../../..');
const fixtures = 'mesh/test/fixtures/manifests/docker';

const codesOf = (text: string): string[] =>
  analyzeDockerfile(text, 'Dockerfile')
    .map((f) => f.code)
    .sort();

describe('Dockerfile analysis', () => {
  it('reports a final stage that switches back to root (CNS0201), naming file, stage and line', () => {
    const findings = analyzeDockerfiles([`${fixtures}/root.Dockerfile`], { root });
    expect(findings).toEqual([
      expect.objectContaining({
        code: 'CNS0201',
        file: `${fixtures}/root.Dockerfile`,
        object: 'Dockerfile/runtime',
        line: 9,
        message: expect.stringContaining('runs as root (USER root)'),
      }),
    ]);
  });

  it('reports a single-stage, unpinned, root image that installs dev dependencies and has no ignore file', () => {
    // Built from a context of its own: the repository root has a .dockerignore (for the legacy builder).
    const context = fs.mkdtempSync(path.join(os.tmpdir(), 'dockerfile-context-'));
    fs.copyFileSync(path.join(root, fixtures, 'single-stage.Dockerfile'), path.join(context, 'single-stage.Dockerfile'));
    const findings = analyzeDockerfiles(['single-stage.Dockerfile'], { root: context });
    fs.rmSync(context, { recursive: true });
    expect(findings.map((f) => f.code).sort()).toEqual(['CNS0201', 'CNS0202', 'CNS0203', 'CNS0204', 'CNS0206']);
    expect(findings.find((f) => f.code === 'CNS0206')?.message).toMatch(/no single-stage\.Dockerfile\.dockerignore beside it/);
    expect(findings.find((f) => f.code === 'CNS0202')?.message).toMatch(/no multi-stage build/);
    expect(findings.find((f) => f.code === 'CNS0203')?.message).toMatch(/node:latest is not pinned/);
    expect(findings.find((f) => f.code === 'CNS0204')?.line).toBe(5); // the RUN with a continuation line
  });

  it('reports COPY sources missing from the build context (the repository root), not sources from other stages', () => {
    const findings = analyzeDockerfiles([`${fixtures}/missing-source.Dockerfile`], { root });
    expect(findings.map((f) => [f.code, f.object, f.line, f.message])).toEqual([
      ['CNS0205', 'Dockerfile/build', 5, 'COPY source articles/nginx.conf does not exist in the build context'],
    ]);
  });

  it('the root .dockerignore keeps node_modules, .git and build output out of a legacy-builder context, and no COPY source', () => {
    const patterns = fs
      .readFileSync(path.join(root, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(patterns).toEqual(expect.arrayContaining(['.git', '**/node_modules', '**/dist']));
    const ignored = (source: string): boolean =>
      patterns.some((p) => {
        const bare = p.replace(/^\*\*\//, '');
        return source === bare || source.startsWith(`${bare}/`) || source.split('/').includes(bare);
      });
    const dockerfiles = ['articles', 'authors', 'web-api-v1', 'web-api-v2', 'web-app'].map((d) => `${d}/Dockerfile`);
    const sources = dockerfiles.flatMap((file) =>
      parseDockerfile(fs.readFileSync(path.join(root, file), 'utf8'))
        .filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))
        .flatMap((i) =>
          i.args
            .split(/\s+/)
            .slice(0, -1)
            .map((s) => s.replace(/\/$/, '')),
        ),
    );
    expect(sources).toEqual(expect.arrayContaining(['package-lock.json', 'service-kit', 'web-app/nginx.conf']));
    expect(sources.filter(ignored)).toEqual([]);
  });

  it('reports a final stage that copies tests (CNS0207): a dist whose tsconfig keeps *.test.ts, or a folder with tests', () => {
    const context = fs.mkdtempSync(path.join(os.tmpdir(), 'dockerfile-tests-'));
    try {
      fs.mkdirSync(path.join(context, 'svc/src'), { recursive: true });
      fs.writeFileSync(path.join(context, 'svc/src/app.test.ts'), '');
      fs.writeFileSync(path.join(context, 'svc/tsconfig.json'), JSON.stringify({ include: ['src'] }));
      const text = [
        'FROM node:20.20.2-bookworm-slim AS build',
        'COPY svc/ svc/',
        'FROM node:20.20.2-bookworm-slim',
        'COPY --from=build /app/svc/dist svc/dist',
        'COPY svc/ svc/',
        'USER 1000:1000',
      ].join('\n');
      const findings = analyzeDockerfile(text, 'Dockerfile', { context }).filter((f) => f.code === 'CNS0207');
      expect(findings.map((f) => [f.line, f.message])).toEqual([
        [4, '/app/svc/dist is compiled from svc/tsconfig.json, which does not exclude *.test.ts: the tests end up in the image'],
        [5, 'svc/ holds test files: they end up in the image'],
      ]);
      // The build stage may see tests; the image may hold the dist once its tsconfig leaves them out.
      fs.writeFileSync(path.join(context, 'svc/tsconfig.json'), JSON.stringify({ include: ['src'], exclude: ['src/**/*.test.ts'] }));
      expect(analyzeDockerfile(text.replace('COPY svc/ svc/\nUSER', 'USER'), 'Dockerfile', { context })).toEqual([]);
    } finally {
      fs.rmSync(context, { recursive: true, force: true });
    }
  });

  it("the repository's images copy no tests", () => {
    const dockerfiles = ['articles', 'authors', 'web-api-v1', 'web-api-v2', 'web-app'].map((d) => `${d}/Dockerfile`);
    expect(analyzeDockerfiles(dockerfiles, { root }).filter((f) => f.code === 'CNS0207')).toEqual([]);
  });

  it('accepts a numeric non-root user and an unprivileged base image without USER', () => {
    const node = 'FROM node:20.20.2-bookworm-slim AS build\nRUN npm ci\nFROM node:20.20.2-bookworm-slim\nRUN npm ci --omit=dev\nUSER 1000:1000\n';
    expect(codesOf(node)).toEqual([]);
    const nginx = 'FROM node:20.20.2-bookworm-slim AS build\nFROM nginxinc/nginx-unprivileged:1.28.0-alpine\nCOPY --from=build /a /b\n';
    expect(codesOf(nginx)).toEqual([]);
    expect(codesOf(nginx.replace('nginxinc/nginx-unprivileged', 'nginx'))).toEqual(['CNS0201']);
  });

  it('resolves ARG defaults in FROM and does not treat stage names as unpinned images', () => {
    const text = 'ARG BASE=node:20.20.2-bookworm-slim\nFROM ${BASE} AS build\nFROM build AS test\nFROM ${BASE}\nUSER 0\n';
    const findings = analyzeDockerfile(text, 'Dockerfile');
    expect(findings.map((f) => [f.code, f.line])).toEqual([['CNS0201', 5]]);
    expect(codesOf('ARG BASE=node\nFROM $BASE AS a\nFROM $BASE\nUSER node\n')).toEqual(['CNS0203', 'CNS0203']);
  });

  it('parses continuations and skips comments', () => {
    expect(parseDockerfile('# c\nRUN a \\\n  # inner comment\n  && b\nUSER node\n')).toEqual([
      { keyword: 'RUN', args: 'a && b', line: 2 },
      { keyword: 'USER', args: 'node', line: 5 },
    ]);
  });
});
