import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Headers every service forwards on its outgoing calls so that a trace (and Istio header-based routing on
 * `end-user`) spans all hops. Istio's sidecars cannot do this for the application.
 */
export const PROPAGATED_HEADERS = [
  'x-request-id',
  'traceparent',
  'tracestate',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'b3',
  'x-ot-span-context',
  'end-user',
  'user-agent',
] as const;

export interface RequestContext {
  requestId: string;
  /** Trace id taken from `traceparent`, `x-b3-traceid` or `b3`, when the caller sent one. */
  traceId?: string;
  /** Incoming values of {@link PROPAGATED_HEADERS} (always including `x-request-id`). */
  propagatedHeaders: Record<string, string>;
}

const requestContextStorage = new AsyncLocalStorage<RequestContext>();

/** The context of the request being handled, or undefined outside a request. */
export function currentRequestContext(): RequestContext | undefined {
  return requestContextStorage.getStore();
}

/** Runs `fn` with `context` as the current request context (for its whole async continuation). */
export function runWithRequestContext<T>(context: RequestContext, fn: () => T): T {
  return requestContextStorage.run(context, fn);
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function traceIdFrom(headers: Record<string, string>): string | undefined {
  const traceparent = headers['traceparent'];
  if (traceparent) {
    const parts = traceparent.split('-');
    if (parts.length >= 4 && /^[0-9a-f]{32}$/.test(parts[1]!)) return parts[1];
  }
  if (headers['x-b3-traceid']) return headers['x-b3-traceid'];
  if (headers['b3']) return headers['b3'].split('-')[0];
  return undefined;
}

/** Builds the request context from incoming headers, generating an `x-request-id` when there is none. */
export function requestContextFromHeaders(headers: IncomingHttpHeaders): RequestContext {
  const propagatedHeaders: Record<string, string> = {};
  for (const name of PROPAGATED_HEADERS) {
    const value = firstValue(headers[name]);
    if (value !== undefined && value !== '') propagatedHeaders[name] = value;
  }
  // Bound the length so a hostile id cannot bloat every log line.
  const incomingId = propagatedHeaders['x-request-id'];
  const requestId = incomingId && incomingId.length <= 200 ? incomingId : randomUUID();
  propagatedHeaders['x-request-id'] = requestId;
  return { requestId, traceId: traceIdFrom(propagatedHeaders), propagatedHeaders };
}
