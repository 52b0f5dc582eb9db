/**
 * The whole stack that whole-stack-routing.test.ts and whole-stack-config-changes.test.ts each start once for
 * their tests: one local mesh from a private manifest root (./helpers.ts), warmed up until getmultiple is complete.
 */
import fs from 'node:fs';
import { startMesh, type MeshHandle } from '../src';
import { eventually, get, makeMeshRoot, requireBuild } from './helpers';

export interface Article {
  id: string;
  title: string;
  authorName: string;
  authorBlog: string;
  authorTwitter: string;
}

/** Starts the mesh (its log lines go to `meshLog`) in a fresh root; call it from beforeAll with a 240 s timeout. */
export async function startWholeStack(meshLog: string[]): Promise<{ root: string; mesh: MeshHandle }> {
  requireBuild();
  const root = makeMeshRoot();
  let handle: MeshHandle | undefined;
  try {
    const started = Date.now();
    const mesh = await startMesh({
      root,
      gatewayPort: 0,
      adminPort: 0,
      log: (message) => meshLog.push(message),
      output: () => undefined,
      probe: { startupTimeoutMs: 90_000 },
    });
    handle = mesh;
    meshLog.push(`started in ${Date.now() - started} ms`);
    // Cold processes (JIT, first connections) can miss web-api's 1 s upstream deadline on a loaded machine:
    // wait until one answer is complete before the tests judge answers.
    await eventually(
      async () => {
        const answer = await get(`${mesh.gatewayUrl}/web-api/v1/getmultiple`);
        const articles = answer.body as Article[];
        return answer.status === 200 && Array.isArray(articles) && articles.every((a) => a.authorBlog !== '') ? true : undefined;
      },
      60_000,
      'a first complete getmultiple answer',
    );
    return { root, mesh };
  } catch (error) {
    // A failed start hands afterAll nothing to stop: end what did start here.
    await handle?.stop();
    fs.rmSync(root, { recursive: true, force: true });
    throw error;
  }
}

/** Stops what startWholeStack started (again, after a test stopped it) and removes its root; MESH_TEST_LOG prints the log. */
export async function stopWholeStack(mesh: MeshHandle | undefined, root: string | undefined, meshLog: string[]): Promise<void> {
  await mesh?.stop();
  if (process.env.MESH_TEST_LOG) console.log(meshLog.join('\n'));
  if (root) fs.rmSync(root, { recursive: true, force: true });
}
