/** Schemas of `GET /api/audit`: the query and the page of audit records. */
import { z } from 'zod';
import { AUDIT_OUTCOMES } from '../../audit/auditLog.js';
import { named, PrincipalId, RegistryId, ResourceId, Timestamp } from './common.js';

/** Query of `GET /api/audit`; every value arrives as a string. */
export const AuditQuerySchema = named(
  'AuditQuery',
  z.strictObject({
    resourceId: ResourceId.optional().describe('Only records about this resource (any id casing).'),
    registry: RegistryId.optional().describe('Only records about this registry.'),
    since: Timestamp.optional().describe('Oldest record time (inclusive). Default: 30 days before until.'),
    until: Timestamp.optional().describe('Newest record time (inclusive). Default: now.'),
    top: z
      .string()
      .regex(/^\d{1,4}$/, 'top is a whole number from 1 to 1000')
      .refine((v) => Number(v) >= 1 && Number(v) <= 1000, 'top is a whole number from 1 to 1000')
      .optional()
      .describe('Records per page, 1-1000. Default 50.'),
    continuationToken: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe('The continuationToken of the previous page, with the same filters.'),
  }),
);
export type AuditQueryInput = z.infer<typeof AuditQuerySchema>;

export const AuditRecordSchema = named(
  'AuditRecord',
  z.object({
    id: z.string(),
    time: z.string().describe('When the decision was recorded (RFC 3339, UTC).'),
    action: z.string().describe("What was attempted: 'grant', 'revoke', 'rotate', 'enrol', 'event' …"),
    outcome: z.enum(Object.values(AUDIT_OUTCOMES) as [string, ...string[]]),
    reason: z.string(),
    resourceId: z.string().optional(),
    principalId: PrincipalId.optional(),
    registry: z.string().optional(),
    role: z.string().optional(),
    eventId: z.string().optional(),
    correlationId: z.string().optional(),
    caller: z.string().optional(),
    durationMs: z.number().optional(),
    errorCode: z.string().optional(),
    details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  }),
  'One decision the automation made.',
);

export const AuditPageSchema = named(
  'AuditPage',
  z.object({
    items: z.array(AuditRecordSchema).describe('Newest first.'),
    continuationToken: z.string().optional().describe('Present when more records match: pass it back as continuationToken.'),
    nextLink: z.string().optional().describe('The URL of the next page (same filters, this continuationToken), without the function key.'),
  }),
);
