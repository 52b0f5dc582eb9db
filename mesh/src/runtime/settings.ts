/** The mesh's start-up settings read from options and environment variables, and the error that stops a start. */

export class MeshStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MeshStartError';
  }
}

export function portFrom(value: number | undefined, envName: string, fallback: number): number {
  if (value !== undefined) return value;
  const env = process.env[envName];
  if (env === undefined || env === '') return fallback;
  const port = Number(env);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new MeshStartError(`${envName}=${env} is not a port number (0-65535)`);
  return port;
}

export function samplingFrom(value: number | undefined): number {
  const raw = value ?? (process.env.MESH_TRACE_SAMPLING ? Number(process.env.MESH_TRACE_SAMPLING) : 100);
  if (!Number.isFinite(raw) || raw < 0 || raw > 100) {
    throw new MeshStartError(
      `trace sampling ${value ?? process.env.MESH_TRACE_SAMPLING} is not a percentage (0-100): set MESH_TRACE_SAMPLING (or --trace-sampling)`,
    );
  }
  return raw;
}

/** Runs `create`; an error it throws stops the start with its message. */
export function orStartError<T>(create: () => T): T {
  try {
    return create();
  } catch (error) {
    throw new MeshStartError((error as Error).message);
  }
}
