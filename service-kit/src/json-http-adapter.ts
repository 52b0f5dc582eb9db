import http from 'node:http';
import zlib from 'node:zlib';
import axios, { AxiosError, AxiosHeaders, type AxiosAdapter, type AxiosProxyConfig, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';

/** axios' own Node adapter: everything the lean path below does not cover goes there unchanged. */
const axiosHttpAdapter = axios.getAdapter('http');

const USER_AGENT = `axios/${axios.VERSION}`;
/** What axios' http adapter advertises (and so what our calls always sent). */
const ACCEPT_ENCODING = 'gzip, compress, deflate, br';
const isAbsoluteUrl = /^([a-z][a-z\d+\-.]*:)?\/\//i;

/**
 * The calls web-api makes to articles and authors are plain HTTP/1.1 JSON exchanges: a path, a few headers, maybe a
 * JSON body, a small JSON answer. axios' Node adapter prepares each one for every feature it supports (redirects,
 * streams, forms, progress, rate limits, data: URLs, HTTP/2, CONNECT tunnels, cancel tokens, ...): in web-api's
 * profile that preparation and its per-call objects were most of axios' cost. This adapter does the same exchange
 * for the plain case only — same request line and headers, same answer object, same errors (codes
 * `ECONNABORTED`/`ETIMEDOUT` on timeout, the socket's code on a network error, `ERR_BAD_RESPONSE` past
 * `maxContentLength`) — and hands every other config to axios' adapter. axios still does the rest of a call:
 * config merging, interceptors, transformRequest/transformResponse (JSON), validateStatus.
 */
export interface UpstreamLimits {
  /**
   * Exchanges on the wire at once through this adapter, those whose caller already timed out included. A call
   * beyond it fails at once with code {@link UPSTREAM_OVERFLOW} instead of adding load to a slow upstream (Envoy's
   * circuit breaker on `max_requests`: the request is answered 503 with flag `UO` without being sent). Default: none.
   */
  maxInFlight?: number;
  /**
   * How long an exchange may still finish after its caller's timeout fired. Within it the answer is read and
   * dropped and the keep-alive connection goes back to the pool; after it the connection is destroyed. Default 10 s.
   */
  lingerMs?: number;
}

/** The error code of a call refused because {@link UpstreamLimits.maxInFlight} exchanges were on the wire. */
export const UPSTREAM_OVERFLOW = 'UPSTREAM_OVERFLOW';

/** A {@link jsonHttpAdapter} with its own in-flight count; `inFlight()` reads it. */
export type LimitedAdapter = AxiosAdapter & { inFlight(): number };

/**
 * The adapter below with its own limits. Every client (one per upstream) gets one, so the count is per upstream.
 *
 * Why a timed-out exchange is left to finish: the upstream does the work whether or not we still wait (closing
 * the connection does not stop a handler that is already running), and destroying it costs a new connection for the
 * next call, on both sides of the sidecar, exactly when the upstream is slowest. Under contention that fed the
 * overload it came from (issue 25: 12.3 vs 8.4 CPU-seconds in a failing vs a good run). The in-flight limit is what
 * keeps the waiting cheap: exchanges left to finish still count, so a slow upstream gets no more than `maxInFlight`
 * requests from this process and callers beyond that are answered at once.
 */
export function createJsonHttpAdapter(limits: UpstreamLimits = {}): LimitedAdapter {
  const maxInFlight = limits.maxInFlight ?? Infinity;
  const lingerMs = limits.lingerMs ?? 10_000;
  let inFlight = 0;
  const adapter: AxiosAdapter = (config) => {
    if (!isPlain(config)) return axiosHttpAdapter(config);
    if (inFlight >= maxInFlight) {
      return Promise.reject(new AxiosError(`${inFlight} calls in flight to this upstream (limit ${maxInFlight}): not sent`, UPSTREAM_OVERFLOW, config));
    }
    inFlight += 1;
    return exchange(config, lingerMs, () => {
      inFlight -= 1;
    });
  };
  return Object.assign(adapter, { inFlight: () => inFlight });
}

export const jsonHttpAdapter: AxiosAdapter = createJsonHttpAdapter();

/** One plain exchange; `onWireDone` runs once when it is off the wire (answered, failed, or destroyed). */
function exchange(config: InternalAxiosRequestConfig, lingerMs: number, onWireDone: () => void): Promise<AxiosResponse> {
  return new Promise<AxiosResponse>((resolve, reject) => {
    const target = new URL(fullPath(config.baseURL, config.url ?? ''));
    const proxy = config.proxy as AxiosProxyConfig | false;
    const headers = config.headers;
    if (!headers.has('user-agent')) headers.set('User-Agent', USER_AGENT);
    if (!headers.has('accept-encoding')) headers.set('Accept-Encoding', ACCEPT_ENCODING);
    const data = config.data === undefined ? undefined : Buffer.from(config.data as string, 'utf8');
    if (data) {
      if (config.maxBodyLength !== undefined && config.maxBodyLength > -1 && data.length > config.maxBodyLength) {
        reject(new AxiosError('Request body larger than maxBodyLength limit', AxiosError.ERR_BAD_REQUEST, config));
        return;
      }
      headers.setContentLength(data.length, false);
    }
    // toJSON leaves out the headers set to null/false (axios' "do not send") and joins repeated values.
    const outgoing = headers.toJSON(true) as Record<string, string>;
    const options: http.RequestOptions = { method: config.method!.toUpperCase(), headers: outgoing, agent: config.httpAgent };
    if (proxy) {
      // As axios does for a plain-HTTP proxy: the absolute URL as the path, the target as Host.
      options.host = proxy.host;
      options.port = proxy.port;
      options.path = target.href;
      outgoing.host = target.host;
      if (proxy.auth) outgoing['Proxy-Authorization'] = `Basic ${Buffer.from(`${proxy.auth.username}:${proxy.auth.password}`).toString('base64')}`;
    } else {
      options.host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
      options.port = target.port;
      options.path = target.pathname + target.search;
    }

    let settled = false;
    let lingerTimer: NodeJS.Timeout | undefined;
    const settle = (error: AxiosError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    };
    const fail = (error: AxiosError) => {
      req.destroy();
      settle(error);
    };
    const req = http.request(options, (res) => {
      const response: AxiosResponse = {
        data: undefined,
        status: res.statusCode!,
        statusText: res.statusMessage ?? '',
        headers: new ParsedResponseHeaders(res.headers),
        config,
        request: req,
      };
      const body = decoded(res);
      const chunks: Buffer[] = [];
      let length = 0;
      const maxContentLength = config.maxContentLength ?? -1;
      body.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        length += chunk.length;
        if (maxContentLength > -1 && length > maxContentLength) {
          fail(new AxiosError(`maxContentLength size of ${maxContentLength} exceeded`, AxiosError.ERR_BAD_RESPONSE, config, req));
        }
      });
      body.on('error', (error) => fail(AxiosError.from(error, undefined, config, req, response)));
      res.on('aborted', () => fail(new AxiosError('stream has been aborted', AxiosError.ERR_BAD_RESPONSE, config, req, response)));
      body.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
        response.data = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
        const validateStatus = config.validateStatus;
        if (!validateStatus || validateStatus(response.status)) resolve(response);
        else {
          const code = [AxiosError.ERR_BAD_REQUEST, AxiosError.ERR_BAD_RESPONSE][Math.floor(response.status / 100) - 4];
          reject(new AxiosError(`Request failed with status code ${response.status}`, code, config, req, response));
        }
      });
    });
    req.on('error', (error) => fail(AxiosError.from(error, undefined, config, req)));
    // 'close' comes once the exchange is over: the answer read to its end (the socket is back in the pool), or the
    // request destroyed or failed.
    req.once('close', () => {
      clearTimeout(lingerTimer);
      onWireDone();
    });
    // One deadline for the caller (axios: a timer until the answer starts, then the socket's idle timeout). The
    // exchange itself may go on for lingerMs (see createJsonHttpAdapter).
    const timer = config.timeout
      ? setTimeout(() => {
          const message = config.timeoutErrorMessage || `timeout of ${config.timeout}ms exceeded`;
          settle(new AxiosError(message, config.transitional?.clarifyTimeoutError ? AxiosError.ETIMEDOUT : AxiosError.ECONNABORTED, config, req));
          lingerTimer = setTimeout(() => req.destroy(), lingerMs);
        }, config.timeout)
      : undefined;
    req.end(data);
  });
}

/**
 * An answer's headers as axios hands them to transformResponse and the caller. Node's parser already gives them
 * lowercased, trimmed and merged (one key per name), which is what AxiosHeaders' set() and normalize() produce: both
 * compare every name with every other (the API answers carry a dozen security headers), on every call, twice.
 */
class ParsedResponseHeaders extends AxiosHeaders {
  constructor(parsed: http.IncomingHttpHeaders) {
    super();
    Object.assign(this, parsed);
  }

  /** Formatting (`normalize(true)`: `Content-Type`) still goes through AxiosHeaders. */
  override normalize(format?: boolean): InstanceType<typeof AxiosHeaders> {
    return format ? super.normalize(format) : this;
  }
}

/**
 * The configs the lean path serves: http: URLs (directly or through a plain-HTTP proxy resolved up front, as
 * createHttpClient does), no query `params`, a body that transformRequest made a string (JSON), a buffered answer
 * read as text/JSON, no redirects to follow, no cancellation, progress, rate limit, socket path or custom transport.
 */
function isPlain(config: InternalAxiosRequestConfig): boolean {
  const proxy = config.proxy;
  return (
    (proxy === false || (typeof proxy === 'object' && proxy !== null && (proxy.protocol ?? 'http') === 'http')) &&
    config.params === undefined &&
    (config.data === undefined || typeof config.data === 'string') &&
    (config.responseType === undefined || config.responseType === 'json' || config.responseType === 'text') &&
    (config.responseEncoding === undefined || config.responseEncoding === 'utf8') &&
    config.maxRedirects === 0 &&
    !config.signal &&
    !config.cancelToken &&
    !config.onUploadProgress &&
    !config.onDownloadProgress &&
    config.maxRate === undefined &&
    config.socketPath == null &&
    config.transport === undefined &&
    config.auth === undefined &&
    config.decompress !== false &&
    (config.httpVersion === undefined || config.httpVersion === 1) &&
    config.lookup === undefined &&
    config.insecureHTTPParser !== true &&
    /^http:/i.test(fullPath(config.baseURL, config.url ?? ''))
  );
}

/** axios' buildFullPath: an absolute `url` as is, otherwise appended to `baseURL`. */
function fullPath(baseURL: string | undefined, url: string): string {
  if (!baseURL || isAbsoluteUrl.test(url)) return url;
  return url ? `${baseURL.replace(/\/?\/$/, '')}/${url.replace(/^\/+/, '')}` : baseURL;
}

/** The answer's body decompressed as axios does for the encodings it advertises. */
function decoded(res: http.IncomingMessage): NodeJS.ReadableStream {
  switch ((res.headers['content-encoding'] ?? '').toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
    case 'compress':
    case 'x-compress':
    case 'deflate':
      return res.pipe(zlib.createUnzip({ flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH }));
    case 'br':
      return res.pipe(zlib.createBrotliDecompress({ flush: zlib.constants.BROTLI_OPERATION_FLUSH, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH }));
    default:
      return res;
  }
}
