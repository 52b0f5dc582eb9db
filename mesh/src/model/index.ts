/** The mesh's shared model: the objects it reads (objects.ts) and the runtime view its layers exchange (runtime.ts). */
export * from './objects';
export * from './runtime';
