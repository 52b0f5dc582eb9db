import http from 'node:http';
export interface RecordedRequest {
    method: string;
    url: string;
    headers: http.IncomingHttpHeaders;
}
export interface Upstream {
    url: string;
    requests: RecordedRequest[];
    close(): Promise<void>;
}
/** Listens on a free loopback port with any request listener (a plain handler or an Express app). */
export declare function listen(handler: http.RequestListener): Promise<Upstream>;
/** A handler that answers JSON (or never answers when `status` is `'hang'`). */
export declare function json(status: number | 'hang', body?: unknown): http.RequestListener;
/** A URL on which nothing listens (a port that was free a moment ago). */
export declare function deadUrl(): Promise<string>;
