/** Schema of `GET /api/health`. */
import { z } from 'zod';
import { named } from './common.js';

export const HEALTH_STATUSES = { healthy: 'healthy', degraded: 'degraded', unhealthy: 'unhealthy' } as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[keyof typeof HEALTH_STATUSES];

/** Azure's limit of role assignments per subscription. https://learn.microsoft.com/azure/role-based-access-control/troubleshoot-limits */
export const ROLE_ASSIGNMENT_LIMIT = 4000;

export const DependencyHealthSchema = named(
  'DependencyHealth',
  z.object({
    name: z.enum(['tableStorage', 'arm', 'graph']),
    reachable: z.boolean(),
    latencyMs: z.number().optional(),
    errorCode: z.string().optional(),
    message: z.string().optional().describe('Why it is not reachable; never holds a secret.'),
  }),
);

export const SubscriptionHealthSchema = named(
  'SubscriptionRoleAssignments',
  z.object({
    subscriptionId: z.string(),
    total: z.number().int().optional().describe('Role assignments in the subscription (all owners), when they could be listed.'),
    owned: z.number().int().optional().describe('Role assignments the automation created (description carries its marker).'),
    limit: z.literal(ROLE_ASSIGNMENT_LIMIT),
    headroom: z.number().int().optional().describe('limit - total: how many more assignments the subscription takes.'),
    errorCode: z.string().optional(),
    message: z.string().optional(),
  }),
);

export const PasswordConsumersHealthSchema = named(
  'PasswordConsumersHealth',
  z.object({
    registryName: z.string(),
    previousRemoveAfter: z
      .string()
      .optional()
      .describe('When the previous password is removed (after a rotation, within its grace period).'),
    consumers: z.array(z.string()).describe('Resource ids of the container groups that use the pull password by value.'),
  }),
);

const statusEnum = () => z.enum(Object.values(HEALTH_STATUSES) as [HealthStatus, ...HealthStatus[]]);

export const CredentialHealthSchema = named(
  'CredentialHealth',
  z.object({
    registryId: z.string(),
    registryName: z.string(),
    vaultName: z.string(),
    status: statusEnum().describe(
      'unhealthy: the password Key Vault serves has expired; degraded: it expires within 7 days (or a third of its life) without a successful rotation, the rotation is more than a day overdue, or there is no current password.',
    ),
    problem: z.string().optional().describe('What is wrong, in plain words.'),
    currentExpiresOn: z.string().optional(),
    nextRotationAt: z.string().optional(),
    lastRotatedAt: z.string().optional().describe('When the current password was proven and switched to.'),
  }),
);

export const SweepHealthSchema = named(
  'SweepHealth',
  z.object({
    status: statusEnum().describe(
      'degraded: the last sweep failed, left resources failed, or is older than twice the RECONCILE_SCHEDULE interval.',
    ),
    lastFinishedAt: z.string().optional(),
    outcome: z.enum(['succeeded', 'partial', 'failed']).optional(),
    resources: z.number().int().optional(),
    failedResources: z.number().int().optional(),
    errorCode: z.string().optional(),
    problem: z.string().optional(),
  }),
);

export const DeadLetterHealthSchema = named(
  'DeadLetterHealth',
  z.object({
    status: statusEnum().describe('degraded: Event Grid dead-lettered events in the last 7 days, or the container could not be read.'),
    configured: z.boolean().describe('false when the settings name no blob endpoint for the dead-letter container (local development).'),
    blobs: z.number().int().optional().describe('Dead-letter blobs in the eventgrid-deadletter container (each holds one or more events).'),
    recent: z.number().int().optional().describe('Of those, written in the last 7 days.'),
    newest: z.string().optional(),
    bySubscription: z.record(z.string(), z.number().int()).optional().describe('Blobs per Event Grid subscription.'),
    errorCode: z.string().optional(),
    problem: z.string().optional(),
  }),
);

export const HealthSchema = named(
  'Health',
  z.object({
    status: z
      .enum(Object.values(HEALTH_STATUSES) as [HealthStatus, ...HealthStatus[]])
      .describe(
        'healthy: all checks pass (HTTP 200); degraded: a subscription is within 10% of the limit or could not be counted, a pull credential is expired, close to expiry or overdue for rotation, or the last sweep failed or is stale, or events were dead-lettered in the last 7 days (200: restarting the app fixes none of these); unhealthy: settings or a dependency fail (503).',
      ),
    time: z.string(),
    settings: z.object({ valid: z.boolean(), problems: z.array(z.string()).describe('One line per bad setting.') }),
    dependencies: z.array(DependencyHealthSchema),
    roleAssignments: z.array(SubscriptionHealthSchema).describe('Per watched subscription.'),
    passwordConsumers: z
      .array(PasswordConsumersHealthSchema)
      .optional()
      .describe(
        'Enrolled registries whose pull password is still used by value (issue 19.4): redeploy those resources before previousRemoveAfter. Absent when it could not be looked up.',
      ),
    credentials: z
      .object({
        status: statusEnum(),
        items: z.array(CredentialHealthSchema).describe('Every active enrolment.'),
        errorCode: z.string().optional(),
        message: z.string().optional(),
      })
      .describe('Pull credentials: the worst status of any enrolment; degraded when the enrolments could not be read.'),
    sweep: SweepHealthSchema.describe('The last reconciliation sweep, from any instance.'),
    deadLetters: DeadLetterHealthSchema.describe('Events Event Grid gave up delivering to the app.'),
  }),
  'What GET /api/health found.',
);
export type Health = z.infer<typeof HealthSchema>;
export type DependencyHealth = z.infer<typeof DependencyHealthSchema>;
export type SubscriptionHealth = z.infer<typeof SubscriptionHealthSchema>;
export type PasswordConsumersHealth = z.infer<typeof PasswordConsumersHealthSchema>;
export type CredentialHealth = z.infer<typeof CredentialHealthSchema>;
export type SweepHealth = z.infer<typeof SweepHealthSchema>;
export type DeadLetterHealth = z.infer<typeof DeadLetterHealthSchema>;
