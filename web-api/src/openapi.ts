import type { WebApiVersion } from './versions';

/**
 * OpenAPI 3.1 description of web-api, served at `/openapi` and rendered by Swagger UI at `/openapi/ui/`.
 * The schemas are plain JSON Schema, so tests validate real responses against them with ajv.
 */
export function buildOpenApiSpec(version: WebApiVersion, articleCount: number) {
  const errorResponse = (description: string) => ({
    description,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'web-api',
      version,
      description: `Backend for the web-app: aggregates the articles and authors services. This is ${version}: getmultiple returns ${articleCount} articles.`,
    },
    paths: {
      '/web-api/v1/getmultiple': {
        get: {
          operationId: 'getMultiple',
          summary: `The ${articleCount} newest articles with their authors`,
          responses: {
            '200': {
              description:
                'Newest first. Author fields are empty strings when the authors service is slow or down. ' +
                'With `x-web-api-stale: true` the articles service is down and this is the last good answer.',
              headers: {
                'x-web-api-version': { schema: { type: 'string', enum: ['v1', 'v2'] } },
                'x-web-api-stale': { schema: { type: 'string', enum: ['true'] } },
              },
              content: {
                'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/WebApiArticle' } } },
              },
            },
            '503': errorResponse('The articles service is down and there is no earlier answer'),
          },
        },
      },
      '/web-api/v1/create': {
        post: {
          operationId: 'createArticle',
          summary: 'Store a new article (forwarded to the articles service)',
          description:
            'Send an `Idempotency-Key` (e.g. a UUID) and retry a 504 or a network error with the same key and body: ' +
            'the article is stored at most once, and a retry after it was stored answers that article again.',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description:
                'draft-ietf-httpapi-idempotency-key-header: 1–255 printable ASCII characters, quoted or bare. Stored with the ' +
                'article; the same key with a different body answers 422.',
              schema: { type: 'string', minLength: 1, maxLength: 257 },
            },
          ],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/ArticleInput' } } },
          },
          responses: {
            '201': {
              description: 'The stored article (with `idempotent-replayed: true`: stored by an earlier request with the same key)',
              headers: { 'idempotent-replayed': { schema: { type: 'string', enum: ['true'] } } },
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Article' } } },
            },
            '400': errorResponse('Invalid body or Idempotency-Key; `field` names the offending field'),
            '413': errorResponse('Body too large'),
            '422': errorResponse('The Idempotency-Key was already used with a different body (`idempotency_key_reused`); nothing stored'),
            '503': errorResponse('The articles service could not be reached; nothing was stored, a retry is safe'),
            '504': errorResponse(
              'Outcome unknown (`outcome_unknown`): articles did not answer in time or answered an error after the request reached it; ' +
                'the article may have been stored. Retry with the same Idempotency-Key.',
            ),
          },
        },
      },
      '/healthz': { get: { summary: 'Liveness', responses: { '200': { description: 'The process is alive' } } } },
      '/readyz': {
        get: {
          summary: 'Readiness: 503 until the warm-up produced a first answer, and once shutdown started',
          responses: { '200': { description: 'Ready' }, '503': { description: 'Warming up (`failing: ["warm-up"]`) or shutting down' } },
        },
      },
    },
    components: {
      schemas: {
        WebApiArticle: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'title', 'url', 'authorName', 'authorBlog', 'authorTwitter'],
          properties: {
            id: { type: 'string', minLength: 1 },
            title: { type: 'string', minLength: 1 },
            url: { type: 'string', format: 'uri' },
            authorName: { type: 'string' },
            authorBlog: { type: 'string', description: 'Empty when unknown', anyOf: [{ const: '' }, { format: 'uri' }] },
            authorTwitter: { type: 'string' },
          },
        },
        ArticleInput: {
          type: 'object',
          required: ['title', 'url', 'author'],
          properties: {
            title: { type: 'string', minLength: 1, maxLength: 200 },
            url: { type: 'string', format: 'uri', maxLength: 2048, description: 'http or https' },
            author: { type: 'string', minLength: 1, maxLength: 100 },
          },
        },
        Article: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'title', 'url', 'author'],
          properties: {
            id: { type: 'string', minLength: 1 },
            title: { type: 'string', minLength: 1 },
            url: { type: 'string', format: 'uri' },
            author: { type: 'string', minLength: 1 },
          },
        },
        Error: {
          type: 'object',
          required: ['error', 'message'],
          properties: {
            error: { type: 'string' },
            message: { type: 'string' },
            field: { type: 'string', description: 'The request field the error is about' },
          },
        },
      },
    },
  };
}
