/**
 * The layering rules of .dependency-cruiser.cjs (mesh/ARCHITECTURE.md) bite: a small tree with one import of each
 * forbidden kind is cruised with the repository's own config, and every rule reports exactly its probe.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '../..');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** Writes `files` (path → source) into a fresh folder and cruises it with the repository's config. */
function cruise(files: Record<string, string>): Violation[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cns-layering-'));
  try {
    for (const [file, source] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), source);
    }
    fs.writeFileSync(path.join(dir, 'tsconfig.depcruise.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' } }));
    const roots = [...new Set(Object.keys(files).map((f) => f.split('/')[0]!))];
    const result = spawnSync(
      path.join(repoRoot, 'node_modules/.bin/depcruise'),
      ['--config', path.join(repoRoot, '.dependency-cruiser.cjs'), '--output-type', 'json', ...roots],
      {
        cwd: dir,
        encoding: 'utf8',
      },
    );
    if (result.status !== 0) throw new Error(`depcruise exited ${result.status}: ${result.stderr}`);
    return (JSON.parse(result.stdout) as { summary: { violations: Violation[] } }).summary.violations;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const rulesHit = (violations: Violation[]): string[] => violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();

test('an import that keeps to its layer passes', () => {
  const violations = cruise({
    'mesh/src/model/index.ts': 'export interface TelemetrySink { record(r: unknown): void }\n',
    'mesh/src/istio/hosts.ts': "import type { TelemetrySink } from '../model';\nexport type S = TelemetrySink;\n",
    'mesh/src/config/route-model.ts': "import type { S } from '../istio/hosts';\nexport type R = S;\n",
    'mesh/src/dataplane/router.ts':
      "import type { R } from '../config/route-model';\nimport type { Sink } from '../telemetry/metrics';\nexport type D = R | Sink;\n",
    'mesh/src/telemetry/metrics.ts': "import type { TelemetrySink } from '../model';\nexport type Sink = TelemetrySink;\n",
    'mesh/src/runtime/mesh.ts': "import type { D } from '../dataplane/router';\nimport type { Sink } from '../telemetry/metrics';\nexport type M = D | Sink;\n",
  });
  expect(rulesHit(violations)).toEqual([]);
});

test('every forbidden import is reported by its rule', () => {
  const violations = cruise({
    'mesh/src/model/index.ts': "import '../istio/hosts';\n",
    'mesh/src/istio/hosts.ts': "import '../config/route-model';\n",
    'mesh/src/config/route-model.ts': "import '../dataplane/router';\n",
    'mesh/src/dataplane/router.ts': "import { startMesh } from '../runtime/mesh';\nexport const s = startMesh;\n",
    'mesh/src/runtime/mesh.ts': 'export function startMesh(): void {}\n',
    'mesh/src/manifests/analyze.ts': "import '../dataplane/router';\n",
    'mesh/src/telemetry/metrics.ts': "import '../runtime/mesh';\n",
    'articles/src/store.ts': "import '../../mesh/src/runtime/mesh';\n",
    'web-app/src/api.ts': "import fs from 'node:fs';\nexport const f = fs;\n",
    'authors/src/a.ts': "import './b';\n",
    'authors/src/b.ts': "import './a';\nimport 'no-such-package';\n",
  });
  const byRule = new Map<string, string[]>();
  for (const v of violations) byRule.set(v.rule.name, [...(byRule.get(v.rule.name) ?? []), `${v.from} -> ${v.to}`]);
  expect(byRule.get('model-is-the-bottom')).toEqual(['mesh/src/model/index.ts -> mesh/src/istio/hosts.ts']);
  expect(byRule.get('vocabulary-is-the-bottom')).toEqual(['mesh/src/istio/hosts.ts -> mesh/src/config/route-model.ts']);
  expect(byRule.get('config-not-dataplane')).toEqual(['mesh/src/config/route-model.ts -> mesh/src/dataplane/router.ts']);
  expect(byRule.get('dataplane-not-runtime')).toEqual(['mesh/src/dataplane/router.ts -> mesh/src/runtime/mesh.ts']);
  expect(byRule.get('manifests-below-runtime')).toEqual(['mesh/src/manifests/analyze.ts -> mesh/src/dataplane/router.ts']);
  expect(byRule.get('telemetry-not-runtime')).toEqual(['mesh/src/telemetry/metrics.ts -> mesh/src/runtime/mesh.ts']);
  expect(byRule.get('services-not-mesh')).toEqual(['articles/src/store.ts -> mesh/src/runtime/mesh.ts']);
  expect(byRule.get('web-app-no-node-core')).toEqual(['web-app/src/api.ts -> fs']);
  expect(byRule.get('not-to-unresolvable')).toEqual(expect.arrayContaining(['authors/src/b.ts -> no-such-package']));
  expect(byRule.get('no-circular')).toEqual(expect.arrayContaining(['authors/src/a.ts -> authors/src/b.ts']));
}, 30_000);
