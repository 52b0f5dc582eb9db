import { BadRequestError, HttpError, ServiceUnavailableError, UPSTREAM_OVERFLOW, parseIdempotencyKey, type Logger } from '@cns/service-kit';
import type { AxiosInstance } from 'axios';
import type { Request, Response } from 'express';
import { describeFailure } from './aggregation';

/**
 * 504 "outcome unknown": the create reached (or may have reached) articles and no answer says what happened. A 503
 * would tell the client "not done, try again" — and a retry without a key stores the article twice (issue 25: 52–92 %
 * of the creates answered 503 there had been stored). With the same Idempotency-Key a retry is safe: it answers the
 * article the first attempt stored, or stores it now.
 */
export class OutcomeUnknownError extends HttpError {
  constructor(reason: string, keyed: boolean) {
    super(
      504,
      'outcome_unknown',
      `articles ${reason}: the article may or may not have been stored; ` +
        (keyed
          ? 'retry with the same Idempotency-Key to get it without storing it twice'
          : 'send an Idempotency-Key header so that a retry cannot store it twice'),
    );
  }
}

/** Failures where nothing was sent, so nothing can have been stored: a refused connection, a call shed by the limit. */
const NOT_SENT = new Set(['ECONNREFUSED', UPSTREAM_OVERFLOW]);

export interface CreateHandlerOptions {
  /** A client of its own (its own timeout and in-flight count): reads piling up must not shed creates. */
  client: AxiosInstance;
  timeoutMs: number;
  logger: Logger;
}

/**
 * `POST /web-api/v1/create`: forwards the body and the `Idempotency-Key` header to articles (which validates both)
 * and answers with what articles answered when it answered 201 or a 4xx JSON error. Every other outcome is 503 when
 * the call was never sent, 504 otherwise. A malformed key is a 400 before any call (the same rule as articles',
 * service-kit's parseIdempotencyKey): whether articles is up must not decide how a client's mistake is answered.
 */
export function createHandler(options: CreateHandlerOptions) {
  const { client, timeoutMs, logger } = options;
  return async (req: Request, res: Response): Promise<void> => {
    if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
      throw new BadRequestError('body: must be a JSON object with title, url and author', 'body');
    }
    const key = req.headers['idempotency-key'];
    parseIdempotencyKey(key);
    const keyed = key !== undefined;
    let response;
    try {
      response = await client.post('/articles/v1/create', req.body, { headers: keyed ? { 'idempotency-key': key } : {}, timeout: timeoutMs });
    } catch (error) {
      const reason = describeFailure(error);
      const code = (error as { code?: unknown }).code;
      logger.warn({ upstream: 'articles', reason, keyed }, 'create call failed');
      if (typeof code === 'string' && NOT_SENT.has(code)) throw new ServiceUnavailableError(`articles service is unavailable (${reason}); nothing was stored`);
      throw new OutcomeUnknownError(reason === 'timed out' ? `did not answer within ${timeoutMs} ms` : `did not answer (${reason})`, keyed);
    }
    // The articles service owns the validation: its 4xx answers (naming the field) go back unchanged.
    if (response.status === 201 || (response.status >= 400 && response.status < 500 && isErrorBody(response.data))) {
      const replayed = response.headers['idempotent-replayed'];
      if (typeof replayed === 'string') res.setHeader('idempotent-replayed', replayed);
      res.status(response.status).json(response.data);
      return;
    }
    logger.warn({ upstream: 'articles', status: response.status, keyed }, 'create answered neither 201 nor a client error');
    throw new OutcomeUnknownError(`answered ${response.status}`, keyed);
  };
}

function isErrorBody(data: unknown): boolean {
  return typeof data === 'object' && data !== null && typeof (data as { message?: unknown }).message === 'string';
}
