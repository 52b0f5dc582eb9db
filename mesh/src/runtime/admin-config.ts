/** The admin server's config routes: the active objects, applying objects or a repo file, removing an object. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseManifestText } from '../manifests/load';
import { objectKey, objectRef } from '../manifests/merge';
import type { LoadedObject } from '../model';
import { HttpError, readBody, sendJson, type AdminBackend } from './admin-http';
import { ConfigRejectedError } from './config-store';

function rejection(error: ConfigRejectedError): HttpError {
  return new HttpError(422, 'configuration rejected: the last good configuration stays active', {
    findings: error.findings.map((f) => ({ file: f.file, line: f.line, object: f.object, code: f.code, severity: f.severity, message: f.message })),
  });
}

/** Answers `method p` when it is a config route; false otherwise. */
export async function handleConfigRoute(
  backend: AdminBackend,
  method: string,
  p: string,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  if (method === 'GET' && p === '/config') {
    sendJson(res, 200, {
      mode: backend.mode,
      resourceVersion: backend.store.resourceVersion(),
      objects: backend.store.stored().map((s) => ({
        ref: objectRef(s.loaded.object),
        apiVersion: s.loaded.object.apiVersion,
        file: s.loaded.source.file,
        line: s.loaded.source.line,
        resourceVersion: s.resourceVersion,
        object: s.loaded.object,
      })),
    });
    return true;
  }
  if (method === 'POST' && p === '/config/apply') {
    const file = url.searchParams.get('file');
    try {
      let applied: LoadedObject[];
      if (file) {
        applied = backend.applyFile(file);
      } else {
        const body = await readBody(req);
        const source = url.searchParams.get('source') ?? (req.headers['x-mesh-source-file'] as string | undefined) ?? 'admin-api';
        const parsed = parseManifestText(body, source);
        if (parsed.findings.some((f) => f.severity === 'error')) throw new ConfigRejectedError(parsed.findings);
        if (parsed.objects.length === 0) throw new HttpError(400, 'the body holds no object: send Istio objects as YAML or JSON');
        backend.apply(parsed.objects);
        applied = parsed.objects;
      }
      // Accepted with the analysis' findings about the applied objects, as kubectl prints admission warnings.
      const warnings = backend.store.lastWarnings().map((f) => ({ file: f.file, line: f.line, object: f.object, code: f.code, message: f.message }));
      sendJson(res, 200, {
        applied: applied.map((o) => ({ ref: objectRef(o.object), file: o.source.file })),
        warnings,
        resourceVersion: backend.store.resourceVersion(),
      });
    } catch (error) {
      if (error instanceof ConfigRejectedError) throw rejection(error);
      throw error;
    }
    return true;
  }
  const deleteMatch = /^\/config\/objects\/([A-Za-z]+)\/([^/]+)$/.exec(p);
  if (method === 'DELETE' && deleteMatch) {
    const [, kind, name] = deleteMatch;
    const target = backend.store.active().find((o) => o.object.kind === kind && o.object.metadata.name === decodeURIComponent(name));
    if (!target) throw new HttpError(404, `no active ${kind}/${name}`);
    try {
      backend.remove([objectKey(target.object)]);
    } catch (error) {
      if (error instanceof ConfigRejectedError) throw rejection(error);
      throw error;
    }
    sendJson(res, 200, { deleted: objectRef(target.object), resourceVersion: backend.store.resourceVersion() });
    return true;
  }
  return false;
}
