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
    previousRemoveAfter: z.string().optional().describe('When the previous password is removed (after a rotation, within its grace period).'),
    consumers: z.array(z.string()).describe('Resource ids of the container groups that use the pull password by value.'),
  }),
);

export const HealthSchema = named(
  'Health',
  z.object({
    status: z.enum(Object.values(HEALTH_STATUSES) as [HealthStatus, ...HealthStatus[]]).describe('healthy: all checks pass (HTTP 200); degraded: a subscription is within 10% of the limit, or its assignments could not be counted (200); unhealthy: settings or a dependency fail (503).'),
    time: z.string(),
    settings: z.object({ valid: z.boolean(), problems: z.array(z.string()).describe('One line per bad setting.') }),
    dependencies: z.array(DependencyHealthSchema),
    roleAssignments: z.array(SubscriptionHealthSchema).describe('Per watched subscription.'),
    passwordConsumers: z
      .array(PasswordConsumersHealthSchema)
      .optional()
      .describe('Enrolled registries whose pull password is still used by value (issue 19.4): redeploy those resources before previousRemoveAfter. Absent when it could not be looked up.'),
  }),
  'What GET /api/health found.',
);
export type Health = z.infer<typeof HealthSchema>;
export type DependencyHealth = z.infer<typeof DependencyHealthSchema>;
export type SubscriptionHealth = z.infer<typeof SubscriptionHealthSchema>;
export type PasswordConsumersHealth = z.infer<typeof PasswordConsumersHealthSchema>;
