import axios, { type AxiosInstance } from 'axios';
import { currentRequestContext } from './context';

export interface HttpClientOptions {
  /** e.g. `http://articles:8080` (the in-cluster name; a local mesh reaches it through `HTTP_PROXY`). */
  baseURL: string;
  /** Per-call timeout in milliseconds. */
  timeoutMs: number;
}

/**
 * An axios instance for calls to another service. It copies the current request's trace headers
 * (`x-request-id`, `traceparent`, `x-b3-*`, `end-user`, ...) onto every call and has a timeout.
 * Proxy settings are left to axios, which follows `HTTP_PROXY`/`NO_PROXY` from the environment.
 */
export function createHttpClient(options: HttpClientOptions): AxiosInstance {
  const client = axios.create({
    baseURL: options.baseURL,
    timeout: options.timeoutMs,
    // Callers look at the status themselves (404 from authors is an answer, not a failure).
    validateStatus: () => true,
    // Upstream bodies are small JSON; refuse anything absurd instead of buffering it.
    maxContentLength: 5 * 1024 * 1024,
    maxRedirects: 0,
  });
  client.interceptors.request.use((config) => {
    const context = currentRequestContext();
    if (context) {
      for (const [name, value] of Object.entries(context.propagatedHeaders)) {
        config.headers.set(name, value, false);
      }
    }
    return config;
  });
  return client;
}
