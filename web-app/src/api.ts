/**
 * The one API call of the app. The URL is relative so the same build works behind any ingress address
 * (cluster ingress, local mesh gateway, vite dev proxy).
 */
export const GET_MULTIPLE_URL = '/web-api/v1/getmultiple';

/** One article as web-api's getmultiple returns it; author fields are "" when authors is degraded. */
export interface Article {
  id: string;
  title: string;
  url: string;
  authorName: string;
  authorBlog: string;
  authorTwitter: string;
}

export interface ArticlesResult {
  articles: Article[];
  /** Value of the `x-web-api-version` header (v1, v2), or undefined when the header is missing. */
  version: string | undefined;
}

/** A failed call, with a sentence for the user that says what failed. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    /** `x-web-api-version` of the failed answer, when web-api itself answered. */
    readonly version?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return '';
}

/** Keeps only the fields the page shows, so a missing or odd field renders as empty, never as "undefined". */
export function toArticle(raw: unknown): Article {
  const o = (raw ?? {}) as Record<string, unknown>;
  return {
    id: asText(o.id),
    title: asText(o.title),
    url: asText(o.url),
    authorName: asText(o.authorName),
    authorBlog: asText(o.authorBlog),
    authorTwitter: asText(o.authorTwitter),
  };
}

async function readError(response: Response): Promise<ApiError> {
  let detail = '';
  try {
    const body = (await response.json()) as { error?: unknown; message?: unknown };
    detail = asText(body.message) || asText(body.error);
  } catch {
    // Not JSON (e.g. a proxy's HTML error page): the status line alone is the best we have.
  }
  const what =
    response.status === 503
      ? 'The articles service is unavailable'
      : `web-api answered ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  const version = response.headers.get('x-web-api-version') ?? undefined;
  return new ApiError(detail ? `${what}: ${detail}` : `${what}.`, response.status, version);
}

/**
 * A new W3C trace context for one call from the page: the browser starts the trace (as OpenTelemetry's browser
 * SDK would), so the page knows the trace id the mesh records the request under.
 */
export function newTraceparent(random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): { traceId: string; traceparent: string } {
  const hex = (bytes: number) => Array.from(random(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
  const traceId = hex(16);
  return { traceId, traceparent: `00-${traceId}-${hex(8)}-01` };
}

/** GET getmultiple; throws ApiError with a user-facing message on any failure. `traceparent` starts a trace. */
export async function fetchArticles(fetchImpl: typeof fetch = fetch, traceparent?: string): Promise<ArticlesResult> {
  let response: Response;
  try {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (traceparent) headers.traceparent = traceparent;
    response = await fetchImpl(GET_MULTIPLE_URL, { headers, cache: 'no-store' });
  } catch {
    throw new ApiError('Could not reach web-api (network error).');
  }
  if (!response.ok) throw await readError(response);
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new ApiError('web-api answered with something that is not JSON.', response.status);
  }
  if (!Array.isArray(body)) throw new ApiError('web-api answered with JSON that is not a list of articles.');
  return { articles: body.map(toArticle), version: response.headers.get('x-web-api-version') ?? undefined };
}

/** Link target for a social handle: "@name" or "name" → the profile URL; a full URL is used as is. */
export function twitterUrl(handle: string): string | undefined {
  const h = handle.trim();
  if (!h) return undefined;
  if (/^https?:\/\//i.test(h)) return h;
  const name = h.replace(/^@/, '');
  return /^[A-Za-z0-9_]{1,15}$/.test(name) ? `https://twitter.com/${name}` : undefined;
}

/** Only http(s) links become anchors: a degraded or odd value must never produce a broken or script link. */
export function safeHttpUrl(value: string): string | undefined {
  const v = value.trim();
  return /^https?:\/\/[^\s]+$/i.test(v) ? v : undefined;
}
