/**
 * Errors that carry their HTTP status. Handlers throw them; the shared error handler turns them into
 * `{ "error": "<code>", "message": "...", "field"?: "..." }` without a stack trace.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    /** Short machine-readable code, e.g. `bad_request`. */
    readonly code: string,
    message: string,
    /** The request field the error is about, when there is one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }

  toJSON(): ErrorBody {
    return this.field === undefined ? { error: this.code, message: this.message } : { error: this.code, message: this.message, field: this.field };
  }
}

/** The JSON body of every error response. */
export interface ErrorBody {
  error: string;
  message: string;
  field?: string;
}

export class BadRequestError extends HttpError {
  constructor(message: string, field?: string) {
    super(400, 'bad_request', message, field);
  }
}

export class NotFoundError extends HttpError {
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

export class PayloadTooLargeError extends HttpError {
  constructor(message: string) {
    super(413, 'payload_too_large', message);
  }
}

export class ServiceUnavailableError extends HttpError {
  constructor(message: string) {
    super(503, 'service_unavailable', message);
  }
}

/**
 * Turns a zod error into a 400 that names the first offending field, e.g. `amount: must be at most 100`.
 * Kept structural (issues with a path and a message) so it works for any zod schema.
 */
export function badRequestFromIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): BadRequestError {
  const first = issues[0];
  const field = first && first.path.length > 0 ? first.path.map(String).join('.') : undefined;
  const message = first ? (field ? `${field}: ${first.message}` : first.message) : 'invalid request';
  return new BadRequestError(message, field);
}
