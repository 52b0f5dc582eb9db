import { BadRequestError } from './errors';

/**
 * Deepest nesting of arrays and objects a JSON body may have. Our bodies are flat (`{ title, url, author }`);
 * a hostile body nested thousands deep parses, but re-serialising it (axios' JSON.stringify when web-api
 * forwards it) overflows the stack, and that was answered as a 503. Refused with 400 before any parse.
 */
export const MAX_JSON_DEPTH = 32;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Nesting depth of the JSON text in `raw` (UTF-8), in one pass over its bytes, ignoring brackets inside
 * strings. Stops counting past `limit`. Multi-byte UTF-8 sequences never contain these ASCII bytes.
 */
export function jsonDepth(raw: Uint8Array, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) depth--;
  }
  return deepest;
}

/** body-parser's `verify` hook: throws a 400 for a body nested deeper than {@link MAX_JSON_DEPTH}. */
export function refuseDeepJson(_req: unknown, _res: unknown, raw: Buffer): void {
  if (jsonDepth(raw, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new BadRequestError(`body: nested deeper than ${MAX_JSON_DEPTH} levels`, 'body');
  }
}
