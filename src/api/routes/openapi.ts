/** `GET /api/openapi.json`: the OpenAPI 3.1 document of every route. */
import { AUTH_LEVELS, operation, type ApiRoute } from '../http.js';
import { buildOpenApiDocument, type OpenApiDocument } from '../openapi.js';
import { named } from '../schemas/common.js';
import { z } from 'zod';

/** The document is an arbitrary JSON object as far as its own schema goes. */
const OpenApiDocumentSchema = named('OpenApiDocument', z.looseObject({ openapi: z.string() }), 'An OpenAPI 3.1 document.');

/**
 * The document route. Anonymous: the document describes the API and holds no data, and tools
 * (Swagger UI, client generators) fetch it without a key.
 */
export function openApiRoute(routes: () => readonly ApiRoute[], version: string): ApiRoute {
  let document: OpenApiDocument | undefined;
  const self: ApiRoute = {
    name: 'openapi',
    route: 'openapi.json',
    authLevel: AUTH_LEVELS.anonymous,
    operations: [
      operation({
        method: 'GET',
        operationId: 'getOpenApiDocument',
        appRole: null,
        summary: 'This API as an OpenAPI 3.1 document',
        tags: ['operations'],
        responses: { 200: { description: 'The OpenAPI document.', schema: OpenApiDocumentSchema } },
        async handle() {
          document ??= buildOpenApiDocument([...routes(), self], { version });
          return { status: 200, body: document, headers: { 'cache-control': 'public, max-age=300' } };
        },
      }),
    ],
  };
  return self;
}
