/** Istio's vocabulary, defined once: see README.md in this folder. */
export * from './catch-all';
export * from './config-order';
export * from './duration';
export * from './hosts';
export * from './identity';
export * from './kinds';
export * from './labels';
export * from './regex';
export * from './response-flags';
