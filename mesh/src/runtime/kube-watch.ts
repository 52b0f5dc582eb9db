/**
 * The Kubernetes watch on a list path (`?watch=true`), as the API server serves it (apiserver
 * `pkg/endpoints/handlers/get.go` `ListResource` picks the timeout; `handlers/watch.go` `serveWatch` and
 * `WatchServer.HandleHTTP` stream the events): a chunked `200` of newline-separated `{"type","object"}` JSON events,
 * the current objects as ADDED first when no resourceVersion (or "0") is asked, then each change of the config, until
 * `timeoutSeconds` or the client leaves.
 */
import type { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { ApiError } from './kube-resources';

/** The API server's `--min-request-timeout` default, the watch timeout when the client gives none (get.go). */
export const DEFAULT_WATCH_TIMEOUT_SECONDS = 1800;

export interface WatchRequest {
  /** The matching objects as the client reads them (GET's presentation), by name; recomputed after each change. */
  snapshot: () => Map<string, { object: object; resourceVersion: number }>;
  /** Emits `change` after every accepted change of the config. */
  changes: EventEmitter;
  /** The store's current version (the list's `metadata.resourceVersion`). */
  currentVersion: () => number;
  /** What an event carries for an object (the object itself, or a one-row Table for `kubectl get -w`). */
  wrap: (object: object) => object;
}

export interface WatchParams {
  timeoutSeconds: number;
  /** The version the client has seen; undefined for "now" (send the current objects as ADDED). */
  sinceVersion: number | undefined;
}

/** `watch=true|1`, `timeoutSeconds`, `resourceVersion` of a list request; undefined when it is not a watch. */
export function watchParams(url: URL): WatchParams | undefined {
  const watch = url.searchParams.get('watch');
  if (watch !== 'true' && watch !== '1') return undefined;
  const timeoutText = url.searchParams.get('timeoutSeconds');
  const timeout = timeoutText === null ? DEFAULT_WATCH_TIMEOUT_SECONDS : Number(timeoutText);
  if (!Number.isInteger(timeout) || timeout < 0) throw new ApiError(400, 'BadRequest', `timeoutSeconds must be a non-negative integer, not "${timeoutText}"`);
  const version = url.searchParams.get('resourceVersion');
  if (version && !/^\d+$/.test(version)) throw new ApiError(400, 'BadRequest', `resourceVersion "${version}" is not a version this server gave out`);
  return {
    timeoutSeconds: timeout === 0 ? DEFAULT_WATCH_TIMEOUT_SECONDS : timeout,
    sinceVersion: version && version !== '0' ? Number(version) : undefined,
  };
}

/**
 * Streams the events. The mesh keeps no event history: a watch from a version older than the current one starts
 * with the current state of every object changed since as MODIFIED (deletions in between are not replayed).
 */
export function serveWatch(request: WatchRequest, params: WatchParams, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private', 'transfer-encoding': 'chunked' });
  // The client learns the watch started before any event (there may be none for a while).
  res.flushHeaders();
  let sent = request.snapshot();
  const send = (type: 'ADDED' | 'MODIFIED' | 'DELETED', object: object) => res.write(`${JSON.stringify({ type, object: request.wrap(object) })}\n`);
  if (params.sinceVersion === undefined) for (const { object } of sent.values()) send('ADDED', object);
  else if (params.sinceVersion < request.currentVersion()) {
    for (const { object, resourceVersion } of sent.values()) if (resourceVersion > params.sinceVersion) send('MODIFIED', object);
  }

  // A change may alter objects other than the one changed (a route's status follows its Gateway): compare them all.
  const onChange = () => {
    const next = request.snapshot();
    for (const [name, { object }] of sent) if (!next.has(name)) send('DELETED', object);
    for (const [name, entry] of next) {
      const before = sent.get(name);
      if (!before) send('ADDED', entry.object);
      else if (JSON.stringify(before.object) !== JSON.stringify(entry.object)) send('MODIFIED', entry.object);
    }
    sent = next;
  };
  // Each watch is one listener: many kubectl watches are not a leak, so no MaxListenersExceededWarning for them.
  const limited = request.changes.getMaxListeners() > 0;
  if (limited) request.changes.setMaxListeners(request.changes.getMaxListeners() + 1);
  request.changes.on('change', onChange);
  const timer = setTimeout(() => res.end(), params.timeoutSeconds * 1000);
  const stop = () => {
    clearTimeout(timer);
    request.changes.off('change', onChange);
    if (limited) request.changes.setMaxListeners(request.changes.getMaxListeners() - 1);
  };
  // `close` comes when the stream ends (timeout) and when the client leaves (its connection closes).
  res.on('close', stop);
}
