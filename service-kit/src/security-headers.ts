import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * Security headers, decided per answer (service-kit/README.md, "Security headers").
 *
 * Every answer (JSON API answers, probes, metrics) gets this short list, set from one precomputed array: the
 * headers the OWASP REST Security Cheat Sheet names for APIs. A JSON body opened in a browser runs nothing
 * (`default-src 'none'`), is never framed, never sniffed as HTML, and is readable only by same-origin pages.
 */
export const API_SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['cross-origin-resource-policy', 'same-origin'],
  ['referrer-policy', 'no-referrer'],
  ['strict-transport-security', 'max-age=31536000; includeSubDomains'],
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
];

/**
 * helmet's full set (its default CSP, COOP, CORP, HSTS, X-Frame-Options, ...) for answers a browser loads as a
 * page: Swagger UI (mount it in front of the pages) and, in createServiceApp, 404s and errors. It replaces
 * the API list's values where both set a header.
 */
export const browserPageHeaders: RequestHandler = helmet({
  contentSecurityPolicy: {
    // The demo is served over plain http (local mesh, port-forward): upgrading asset URLs would break them.
    directives: { upgradeInsecureRequests: null },
  },
});
