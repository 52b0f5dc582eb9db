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

const hex = (n: number) => `[0-9a-f]{${n}}`;
/** Printable ASCII without controls, at most `max` characters. */
const printable = (max: number) => new RegExp(`^[\\x20-\\x7e]{1,${max}}$`);

/**
 * What a propagated header's value must look like to be kept: the trace formats (W3C Trace Context, B3) as
 * their specifications write them, the free-form ones printable and capped. A value that does not match is
 * dropped: neither logged nor forwarded (a hostile caller cannot bloat every log line or smuggle bytes
 * upstream). `x-request-id` is replaced by a fresh one instead.
 */
export const PROPAGATED_HEADER_FORMATS: Readonly<Record<(typeof PROPAGATED_HEADERS)[number], RegExp>> = {
  'x-request-id': /^[\x21-\x7e]{1,200}$/,
  // version-traceid-parentid-flags; a later version may append fields (W3C Trace Context, "Versioning").
  traceparent: new RegExp(`^${hex(2)}-${hex(32)}-${hex(16)}-${hex(2)}(-[\\x21-\\x7e]{1,200})?$`),
  // At most 32 list members; 512 characters is the length the specification says vendors must propagate.
  tracestate: printable(512),
  'x-b3-traceid': new RegExp(`^(${hex(16)}|${hex(32)})$`),
  'x-b3-spanid': new RegExp(`^${hex(16)}$`),
  'x-b3-parentspanid': new RegExp(`^${hex(16)}$`),
  // B3: "1"/"0", and true/false from tracers older than the specification.
  'x-b3-sampled': /^(0|1|true|false)$/,
  'x-b3-flags': /^1$/,
  // Single header: {traceid}-{spanid}[-{sampling}[-{parentspanid}]], or the sampling state alone.
  b3: new RegExp(`^((${hex(16)}|${hex(32)})-${hex(16)}(-(0|1|d)(-${hex(16)})?)?|0|1|d)$`),
  'x-ot-span-context': printable(256),
  'end-user': printable(256),
  'user-agent': printable(512),
};

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
  const b3 = headers['b3'];
  if (b3 && b3.length > 1) return b3.split('-', 1)[0];
  return undefined;
}

/** Builds the request context from incoming headers, generating an `x-request-id` when there is none. */
export function requestContextFromHeaders(headers: IncomingHttpHeaders): RequestContext {
  const propagatedHeaders: Record<string, string> = {};
  for (const name of PROPAGATED_HEADERS) {
    const value = firstValue(headers[name]);
    if (value !== undefined && value !== '' && PROPAGATED_HEADER_FORMATS[name].test(value)) propagatedHeaders[name] = value;
  }
  const requestId = propagatedHeaders['x-request-id'] ?? randomUUID();
  propagatedHeaders['x-request-id'] = requestId;
  return { requestId, traceId: traceIdFrom(propagatedHeaders), propagatedHeaders };
}
