/**
 * Schemas shared by every route: ids, times, the problem body. Each reusable schema is named in
 * `apiSchemas`, the registry the OpenAPI generator turns into `components.schemas`.
 */
import { z } from 'zod';
import { parseResourceId, REGISTRY_TYPE, type ParsedResourceId } from '../../policy/resourceId.js';
import { INVALID_RESOURCE_ID } from '../problem.js';
import { RESOURCE_TYPES } from '../../policy/resourceTypes.js';

/** Named schemas: each becomes `#/components/schemas/<id>` in the OpenAPI document. */
export const apiSchemas = z.registry<{ id: string; description?: string }>();

/** Adds a schema to the OpenAPI components under `id`. */
export function named<T extends z.ZodType>(id: string, schema: T, description?: string): T {
  apiSchemas.add(schema, description ? { id, description } : { id });
  return schema;
}

/** A string that `parseResourceId` accepts (and, when given, that `check` accepts too); refusals are InvalidResourceId problems. */
function armId(check?: (parsed: ParsedResourceId, value: string) => string | undefined) {
  return z
    .string()
    .min(1)
    .max(2048)
    .superRefine((value, ctx) => {
      const parsed = parseResourceId(value);
      const problem = parsed.ok ? check?.(parsed.value, value) : parsed.error;
      if (problem) ctx.addIssue({ code: 'custom', message: problem, params: { problem: INVALID_RESOURCE_ID } });
    });
}

/** A resource id that `parseResourceId` accepts: no query, fragment, OData quotes, encoded or `..` segments. */
export const ResourceId = named(
  'ResourceId',
  armId().meta({
    examples: [
      '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-1',
    ],
  }),
  'An ARM resource id, /subscriptions/<id>/resourceGroups/<rg>/providers/<namespace>/<type>/<name>. Compared case-insensitively.',
);

/** The resource id of a container registry. */
export const RegistryId = named(
  'RegistryId',
  armId((parsed, value) =>
    parsed.type !== REGISTRY_TYPE || parsed.names.length !== 1
      ? `${JSON.stringify(value.slice(0, 80))} is not a container registry id (…/providers/${RESOURCE_TYPES.registry.type}/<name>)`
      : undefined,
  ).meta({
    examples: [
      '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoacr',
    ],
  }),
  'The ARM resource id of a container registry.',
);

/** A registry name as ARM allows it: 5-50 letters and digits. */
export const RegistryName = named(
  'RegistryName',
  z
    .string()
    .regex(/^[A-Za-z0-9]{5,50}$/, 'a registry name is 5-50 letters and digits')
    .meta({ examples: ['contosoacr'] }),
  'A container registry name (5-50 letters and digits).',
);

/** An Entra object id. */
export const PrincipalId = named(
  'PrincipalId',
  z
    .string()
    .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'a principal id is a GUID')
    .meta({ examples: ['3f2a6c1e-8d4b-4c7a-9f10-2b5e7d9a1c34'] }),
  'An Entra object id (GUID) of a managed identity or service principal.',
);

/** An RFC 3339 time with an offset, as query input; parsed to a Date. */
export const Timestamp = z.iso.datetime({ offset: true }).meta({ examples: ['2026-11-20T10:00:00Z'] });

const FieldError = named(
  'ProblemFieldError',
  z.object({
    pointer: z.string().describe('JSON Pointer into the request: #/body/<field>, #/query/<name> or #/params/<name>.'),
    detail: z.string(),
  }),
);

/** RFC 9457 problem details. */
export const ProblemSchema = named(
  'Problem',
  z.object({
    type: z.string().describe('Stable URI per error code: urn:acr-pull-automation:problem:<code-in-kebab-case>.'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional().describe('urn:uuid:<invocation id>, the id on the request’s log lines.'),
    code: z.string().describe('The error code, as in audit rows.'),
    errors: z.array(FieldError).optional(),
  }),
  'RFC 9457 problem details (application/problem+json).',
);
