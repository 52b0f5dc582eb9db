import { z } from 'zod';

/** Treats an empty variable (`PORT=`) as unset, so the default applies. */
function emptyAsUnset(value: unknown): unknown {
  return value === '' ? undefined : value;
}

/** An integer read from an environment variable, with bounds and a default. */
export function envInt(options: { default: number; min?: number; max?: number }) {
  let schema = z.coerce.number({ error: 'must be an integer' }).int({ error: 'must be an integer' });
  if (options.min !== undefined) schema = schema.min(options.min, { error: `must be at least ${options.min}` });
  if (options.max !== undefined) schema = schema.max(options.max, { error: `must be at most ${options.max}` });
  return z.preprocess(emptyAsUnset, schema.default(options.default));
}

/** An http(s) URL read from an environment variable, with a default. */
export function envUrl(defaultUrl: string) {
  return z.preprocess(
    emptyAsUnset,
    z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://articles:8080' })
      .default(defaultUrl)
      // A trailing slash would double up when paths are appended.
      .transform((url) => url.replace(/\/+$/, '')),
  );
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Settings every service shares. `HOST` defaults to all interfaces (containers); the local mesh sets
 * `HOST=127.0.0.1`. `PORT=0` asks the OS for a free port (the listening log line says which).
 */
export function serviceConfigSchema(defaultPort: number) {
  return z.object({
    PORT: envInt({ default: defaultPort, min: 0, max: 65535 }),
    HOST: z.preprocess(emptyAsUnset, z.string().default('0.0.0.0')),
    LOG_LEVEL: z.preprocess(emptyAsUnset, z.enum(logLevels, { error: `must be one of ${logLevels.join(', ')}` }).optional()),
    /** One log line per request (`on`), or only warnings, errors and lifecycle lines (`off`, the default). */
    ACCESS_LOG: z.preprocess(emptyAsUnset, z.enum(['on', 'off'], { error: 'must be on or off' }).default('off')),
    /** Wait after SIGTERM before closing the listener, so endpoints are updated before new connections stop. */
    SHUTDOWN_DELAY_MS: envInt({ default: 0, min: 0, max: 120_000 }),
    /** Deadline for in-flight requests to finish after the listener closed. */
    DRAIN_TIMEOUT_MS: envInt({ default: 10_000, min: 0, max: 600_000 }),
  });
}

export type ServiceConfig = z.infer<ReturnType<typeof serviceConfigSchema>>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses `env` with `schema`; throws a {@link ConfigError} listing every bad variable and its value. */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.map(String).join('.');
    const value = env[name];
    return value === undefined ? `${name}: ${issue.message}` : `${name}=${JSON.stringify(value)}: ${issue.message}`;
  });
  throw new ConfigError(problems);
}

/**
 * {@link loadConfig} for a server entry point: on bad config, prints a clear message to stderr and exits 1
 * (so Kubernetes shows the reason in the container's last state).
 */
export function loadConfigOrExit<S extends z.ZodType>(service: string, schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  try {
    return loadConfig(schema, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${service}: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
