/** Schemas of `/api/access/*`: preview requests and the plan the reconcile use case computes. */
import { z } from 'zod';
import { ACCESS } from '../../policy/tags.js';
import { AuditRecordSchema } from './audit.js';
import { named, ResourceId } from './common.js';

const Access = z.enum([ACCESS.pull, ACCESS.push]);
const Role = named('Role', z.object({ name: z.string().describe('AcrPull, AcrPush, or a repository role on an ABAC registry.'), roleDefinitionId: z.string() }));

export const PreviewRequestSchema = named(
  'PreviewRequest',
  z.strictObject({ resourceId: ResourceId.describe('A consumer (VM, scale set, AKS cluster, identity, ACR task, Container App, App Service) or a registry.') }),
  'What to preview: the same reconciliation a resource event runs, with writes turned off.',
);

const Grant = z.object({
  name: z.string().describe('The deterministic role assignment name.'),
  scope: z.string(),
  registryName: z.string(),
  principalId: z.string(),
  principalType: z.string(),
  source: z.string().describe('system, user, kubelet or task identity.'),
  identityResourceId: z.string().optional(),
  access: Access,
  role: Role,
  description: z.string(),
  reason: z.string(),
});
const Revoke = z.object({ name: z.string(), scope: z.string(), registryName: z.string(), principalId: z.string(), role: Role, reason: z.string() });
const Unchanged = z.object({ name: z.string(), scope: z.string(), registryName: z.string(), principalId: z.string(), role: Role, owned: z.boolean(), reason: z.string() });
const Denial = z.object({ scope: z.string().optional(), registryName: z.string().optional(), access: Access.optional(), principalIds: z.array(z.string()), reason: z.string() });
const Unresolved = z.object({ registryRef: z.string(), access: Access, reason: z.string() });

export const AccessPlanSchema = named(
  'AccessPlan',
  z.object({
    grants: z.array(Grant).describe('Assignments that would be created.'),
    revokes: z.array(Revoke).describe('Assignments the automation created that would be removed.'),
    unchanged: z.array(Unchanged).describe('Wanted assignments that already exist.'),
    denied: z.array(Denial).describe('Requests the registry’s consent (or the identity) does not allow.'),
    unresolved: z.array(Unresolved).describe('Registry references that name no registry.'),
  }),
);

export const PreviewResultSchema = named(
  'PreviewResult',
  z.object({
    resourceId: z.string(),
    dryRun: z.literal(true),
    decisions: z.array(AuditRecordSchema.omit({ id: true, time: true })).describe('The audit rows a real run would write, in order.'),
    plans: z.array(z.object({ consumerId: z.string(), plan: AccessPlanSchema })).describe('One plan per consumer settled.'),
  }),
);
