/**
 * THE place where web-api v1 and v2 differ. Both deployables run the same source; `web-api-v1` and
 * `web-api-v2` only pick a row of this table.
 */
export interface VersionBehaviour {
  /** How many articles `GET /web-api/v1/getmultiple` returns. */
  articleCount: number;
  /**
   * How authors are looked up: `per-author` makes one call per distinct author (in parallel);
   * `batch` (the v2 improvement) makes a single `getauthors` call, so the service graph shows fewer requests.
   */
  authorLookup: 'per-author' | 'batch';
}

export const versionTable = {
  v1: { articleCount: 5, authorLookup: 'per-author' },
  v2: { articleCount: 10, authorLookup: 'batch' },
} as const satisfies Record<string, VersionBehaviour>;

export type WebApiVersion = keyof typeof versionTable;
