import { BadRequestError } from './errors';

/**
 * The `Idempotency-Key` header (draft-ietf-httpapi-idempotency-key-header: a Structured Fields String, e.g.
 * `"8e03978e-40d5-43e8-bc93-6894a57f9324"`). Accepted quoted or bare, 1–255 printable ASCII characters inside;
 * absent means a create without one. Anything else is a 400 naming the header.
 */
export function parseIdempotencyKey(raw: string | string[] | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? undefined : raw.trim();
  const key = value !== undefined && /^"[^"\\]*"$/.test(value) ? value.slice(1, -1) : value;
  if (key === undefined || !/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new BadRequestError('Idempotency-Key: must be one value of 1 to 255 printable ASCII characters (no spaces), e.g. a UUID', 'Idempotency-Key');
  }
  return key;
}
