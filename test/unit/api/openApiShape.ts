/**
 * A hand check of the rules that make a document OpenAPI 3.1 (https://spec.openapis.org/oas/v3.1.0)
 * and its schemas JSON Schema 2020-12 (https://json-schema.org/draft/2020-12/json-schema-core):
 * no validator package, only the rules a generator is likely to break. Answers a list of problems.
 */
type Json = Record<string, unknown>;

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);
/** Keywords of the 2020-12 vocabularies (core, applicator, validation, meta-data, format, content, unevaluated) plus OpenAPI's base-dialect ones. */
const KEYWORDS = new Set([
  '$schema',
  '$id',
  '$ref',
  '$anchor',
  '$dynamicRef',
  '$dynamicAnchor',
  '$defs',
  '$comment',
  '$vocabulary',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'if',
  'then',
  'else',
  'dependentSchemas',
  'prefixItems',
  'items',
  'contains',
  'properties',
  'patternProperties',
  'additionalProperties',
  'propertyNames',
  'unevaluatedItems',
  'unevaluatedProperties',
  'type',
  'enum',
  'const',
  'multipleOf',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'maxItems',
  'minItems',
  'uniqueItems',
  'maxContains',
  'minContains',
  'maxProperties',
  'minProperties',
  'required',
  'dependentRequired',
  'title',
  'description',
  'default',
  'deprecated',
  'readOnly',
  'writeOnly',
  'examples',
  'format',
  'contentEncoding',
  'contentMediaType',
  'contentSchema',
  'discriminator',
  'xml',
  'externalDocs',
  'example',
]);
const SCHEMA_MAP_KEYWORDS = ['properties', 'patternProperties', '$defs', 'dependentSchemas'];
const SCHEMA_KEYWORDS = [
  'additionalProperties',
  'items',
  'contains',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
  'unevaluatedItems',
  'unevaluatedProperties',
  'contentSchema',
];
const SCHEMA_ARRAY_KEYWORDS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const NON_NEGATIVE_INTEGERS = [
  'maxLength',
  'minLength',
  'maxItems',
  'minItems',
  'maxProperties',
  'minProperties',
  'maxContains',
  'minContains',
];

export function checkOpenApi31(doc: Json): string[] {
  const problems: string[] = [];
  const bad = (where: string, what: string) => problems.push(`${where}: ${what}`);
  if (typeof doc['openapi'] !== 'string' || !/^3\.1\.\d+$/.test(doc['openapi']))
    bad('openapi', `expected 3.1.x, got ${String(doc['openapi'])}`);
  const info = doc['info'] as Json | undefined;
  if (!isObject(info) || typeof info['title'] !== 'string' || typeof info['version'] !== 'string')
    bad('info', 'needs title and version strings');
  const paths = doc['paths'] as Json | undefined;
  if (!isObject(paths)) bad('paths', 'missing');
  const components = doc['components'] as Json | undefined;
  if (!isObject(components) || !isObject(components['schemas'])) bad('components', 'needs schemas');

  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries(paths ?? {})) {
    if (!path.startsWith('/')) bad(path, 'a path must start with /');
    if (!isObject(item)) continue;
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    for (const [method, op] of Object.entries(item)) {
      const where = `${method.toUpperCase()} ${path}`;
      if (!HTTP_METHODS.has(method)) {
        bad(where, 'not an HTTP method');
        continue;
      }
      if (!isObject(op)) {
        bad(where, 'not an object');
        continue;
      }
      const id = op['operationId'];
      if (typeof id !== 'string') bad(where, 'no operationId');
      else if (operationIds.has(id)) bad(where, `duplicate operationId ${id}`);
      else operationIds.add(id);
      const responses = op['responses'];
      if (!isObject(responses) || Object.keys(responses).length === 0) bad(where, 'no responses');
      for (const [status, response] of Object.entries(isObject(responses) ? responses : {})) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status)) bad(where, `response key ${status}`);
        const resolved = isObject(response) && typeof response['$ref'] === 'string' ? resolvePointer(doc, response['$ref']) : response;
        if (!isObject(resolved) || typeof resolved['description'] !== 'string') bad(`${where} ${status}`, 'a response needs a description');
        else checkContent(resolved['content'], `${where} ${status}`);
      }
      const params = (op['parameters'] ?? []) as Json[];
      if (!Array.isArray(params)) bad(where, 'parameters is not an array');
      const seen = new Set<string>();
      for (const p of params) {
        const key = `${String(p['in'])}:${String(p['name'])}`;
        if (seen.has(key)) bad(where, `parameter ${key} twice`);
        seen.add(key);
        if (!['query', 'header', 'path', 'cookie'].includes(String(p['in']))) bad(where, `parameter ${key} has in=${String(p['in'])}`);
        if (p['in'] === 'path' && p['required'] !== true) bad(where, `path parameter ${key} must be required`);
        if (p['in'] === 'path' && !templated.includes(String(p['name']))) bad(where, `path parameter ${key} is not in the path`);
        if (p['schema'] === undefined) bad(where, `parameter ${key} has no schema`);
        else checkSchema(p['schema'], `${where} parameter ${key}`, bad);
      }
      for (const name of templated)
        if (!params.some((p) => p['in'] === 'path' && p['name'] === name)) bad(where, `path template {${name}} has no parameter`);
      if (op['requestBody'] !== undefined) {
        const body = op['requestBody'] as Json;
        if (!isObject(body['content'])) bad(where, 'requestBody needs content');
        checkContent(body['content'], `${where} requestBody`);
      }
      for (const requirement of (op['security'] ?? []) as Json[]) {
        for (const scheme of Object.keys(requirement)) {
          if (!isObject((components?.['securitySchemes'] as Json | undefined)?.[scheme]))
            bad(where, `security scheme ${scheme} is not defined`);
        }
      }
    }
  }
  for (const [name, schema] of Object.entries((components?.['schemas'] ?? {}) as Json))
    checkSchema(schema, `components.schemas.${name}`, bad);

  // Every $ref anywhere resolves inside the document.
  walk(doc, '#', (value, where) => {
    if (isObject(value) && typeof value['$ref'] === 'string') {
      if (resolvePointer(doc, value['$ref']) === undefined) bad(where, `$ref ${value['$ref']} does not resolve`);
    }
  });
  return problems;

  function checkContent(content: unknown, where: string) {
    if (content === undefined) return;
    if (!isObject(content)) return bad(where, 'content is not an object');
    for (const [mediaType, media] of Object.entries(content)) {
      if (!/^[\w.+-]+\/[\w.+-]+$/.test(mediaType)) bad(where, `media type ${mediaType}`);
      if (isObject(media) && media['schema'] !== undefined) checkSchema(media['schema'], `${where} ${mediaType}`, bad);
    }
  }
}

/** JSON Schema 2020-12 structural rules, recursively. */
export function checkSchema(schema: unknown, where: string, bad: (where: string, what: string) => void): void {
  if (typeof schema === 'boolean') return;
  if (!isObject(schema)) return bad(where, 'a schema is an object or a boolean');
  for (const key of Object.keys(schema)) if (!KEYWORDS.has(key) && !key.startsWith('x-')) bad(where, `unknown keyword ${key}`);
  if ('nullable' in schema) bad(where, 'nullable is OpenAPI 3.0, not 3.1');
  const type = schema['type'];
  if (type !== undefined) {
    const list = Array.isArray(type) ? type : [type];
    if (list.length === 0 || list.some((t) => !TYPES.has(String(t)))) bad(where, `type ${JSON.stringify(type)}`);
  }
  if (schema['required'] !== undefined) {
    const required = schema['required'];
    if (!Array.isArray(required) || required.some((r) => typeof r !== 'string') || new Set(required).size !== required.length)
      bad(where, 'required must be unique strings');
  }
  if (schema['enum'] !== undefined && (!Array.isArray(schema['enum']) || schema['enum'].length === 0))
    bad(where, 'enum must be a non-empty array');
  if (typeof schema['exclusiveMinimum'] === 'boolean' || typeof schema['exclusiveMaximum'] === 'boolean')
    bad(where, 'exclusiveMinimum/Maximum are numbers in 2020-12');
  if (Array.isArray(schema['items'])) bad(where, 'items is a schema in 2020-12 (tuples use prefixItems)');
  for (const key of NON_NEGATIVE_INTEGERS) {
    const value = schema[key];
    if (value !== undefined && !(Number.isInteger(value) && (value as number) >= 0)) bad(where, `${key} must be a non-negative integer`);
  }
  if (schema['pattern'] !== undefined) {
    try {
      new RegExp(String(schema['pattern']), 'u');
    } catch {
      bad(where, `pattern ${String(schema['pattern'])} is not an ECMA-262 regular expression`);
    }
  }
  if (schema['$id'] !== undefined && String(schema['$id']).includes('#')) bad(where, '$id must not contain a fragment');
  if (schema['examples'] !== undefined && !Array.isArray(schema['examples'])) bad(where, 'examples must be an array');
  for (const key of SCHEMA_MAP_KEYWORDS) {
    const map = schema[key];
    if (map === undefined) continue;
    if (!isObject(map)) bad(where, `${key} must be an object`);
    else for (const [name, sub] of Object.entries(map)) checkSchema(sub, `${where}.${key}.${name}`, bad);
  }
  for (const key of SCHEMA_KEYWORDS) if (schema[key] !== undefined) checkSchema(schema[key], `${where}.${key}`, bad);
  for (const key of SCHEMA_ARRAY_KEYWORDS) {
    const list = schema[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.length === 0) bad(where, `${key} must be a non-empty array`);
    else list.forEach((sub, i) => checkSchema(sub, `${where}.${key}[${i}]`, bad));
  }
}

/** Resolves a local JSON Pointer reference (`#/components/schemas/X`). */
export function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(node) && !Array.isArray(node)) return undefined;
    node = (node as Json)[key];
    if (node === undefined) return undefined;
  }
  return node;
}

function walk(value: unknown, where: string, visit: (value: unknown, where: string) => void): void {
  visit(value, where);
  if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${where}/${i}`, visit));
  else if (isObject(value)) for (const [k, v] of Object.entries(value)) walk(v, `${where}/${k}`, visit);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
