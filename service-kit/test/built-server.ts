// Locates a workspace's built server for process-level tests (`npm test` builds first; `npx tsc -b` otherwise).
import { existsSync } from 'node:fs';
import path from 'node:path';

export function builtServer(workspace: string): string {
  const script = path.resolve(__dirname, '../..', workspace, 'dist/server.js');
  if (!existsSync(script)) throw new Error(`${script} is missing: build first with \`npx tsc -b\``);
  return script;
}
