/**
 * Istio regexes are RE2 (Envoy's `safe_regex`) and must match the whole value. re2js is a linear-time RE2 port, so
 * the dialect is RE2's (`(?i)`, `\pL`, no look-around or back-references) and no pattern can stall the proxy.
 */
import { RE2JS } from 're2js';

export type { RE2JS };

/** The compiled regex, or undefined when it does not compile (validation refuses those; a survivor never matches). */
export function compileRegex(source: string): RE2JS | undefined {
  try {
    return RE2JS.compile(source);
  } catch {
    return undefined;
  }
}

/** Why Istio's validation refuses a regex (istio/istio pkg/config/validation validateStringRegexp), or undefined. */
export function regexError(source: string): string | undefined {
  if (source === '') return 'regex string match should not be empty';
  if (source.length > 1024) return 'regex is too large, max length allowed is 1024';
  try {
    RE2JS.compile(source);
    return undefined;
  } catch (error) {
    return `${(error as Error).message}; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)`;
  }
}
