/** Schemas of `/api/access/*`: preview requests, manual grant and revoke, and the plans behind them. */
import { z } from 'zod';
import { AUDIT_OUTCOMES } from '../../audit/auditLog.js';
import { MANUAL_GRANT_OUTCOMES, MANUAL_REVOKE_OUTCOMES, PRINCIPAL_TYPES } from '../../access/manualRequests.js';
import { parseRegistryRef } from '../../policy/tags.js';
import { ACCESS } from '../../policy/tags.js';
import { INVALID_RESOURCE_ID } from '../problem.js';
import { AuditRecordSchema } from './audit.js';
import { named, PrincipalId, ResourceId } from './common.js';

const Access = named(
  'Access',
  z.enum([ACCESS.pull, ACCESS.push]),
  'pull (AcrPull, or Container Registry Repository Reader on an ABAC registry) or push (AcrPush, or Repository Writer).',
);
const Role = named(
  'Role',
  z.object({ name: z.string().describe('AcrPull, AcrPush, or a repository role on an ABAC registry.'), roleDefinitionId: z.string() }),
);

/** A registry as the tags name one: its name, login server or resource id. */
export const RegistryReference = named(
  'RegistryReference',
  z
    .string()
    .min(1)
    .max(2048)
    .superRefine((value, ctx) => {
      const parsed = parseRegistryRef(value);
      if (!parsed.ok)
        ctx.addIssue({
          code: 'custom',
          message: parsed.error,
          ...(value.trim().startsWith('/') ? { params: { problem: INVALID_RESOURCE_ID } } : {}),
        });
    })
    .meta({
      examples: [
        'contosoacr',
        'contosoacr.azurecr.io',
        '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoacr',
      ],
    }),
  'A container registry by name, login server or resource id, as in the acr-pull tag.',
);

const PrincipalType = named(
  'PrincipalType',
  z.enum([PRINCIPAL_TYPES.servicePrincipal, PRINCIPAL_TYPES.user, PRINCIPAL_TYPES.group]),
  'Sent with the role assignment so a new principal does not fail with PrincipalNotFound. Default ServicePrincipal (managed identities are).',
);

const consumerDescription =
  'A consumer (VM, scale set, AKS cluster, identity, ACR task, Container App, App Service): every managed identity it has.';
const principalDescription = 'One Entra principal (managed identity, service principal, user or group) by object id.';
const overrideDescription =
  'Grant although the registry’s acr-pull-allow (acr-push-allow for push) does not cover this consumer. Refused (403 ConsentOverrideDisabled) unless ACCESS_ALLOW_CONSENT_OVERRIDE is true; recorded as an override.';

const forResource = { resourceId: ResourceId.describe(consumerDescription), registry: RegistryReference, access: Access };
const forPrincipal = {
  principalId: PrincipalId.describe(principalDescription),
  principalType: PrincipalType.optional(),
  registry: RegistryReference,
  access: Access,
};

export const PreviewRequestSchema = named(
  'PreviewRequest',
  z.union([
    z.strictObject({ resourceId: ResourceId.describe(`${consumerDescription} Or a registry: every consumer tagged for it.`) }),
    z.strictObject({ ...forResource, override: z.boolean().optional().describe(overrideDescription) }),
    z.strictObject({ ...forPrincipal, override: z.boolean().optional().describe(overrideDescription) }),
  ]),
  'What to preview: { resourceId } runs the reconciliation a resource event runs; { resourceId | principalId, registry, access } the manual grant POST /api/access/grants would make. Writes are turned off either way.',
);
export type PreviewRequest = z.infer<typeof PreviewRequestSchema>;

export const GrantRequestSchema = named(
  'GrantRequest',
  z.union([
    z.strictObject({ ...forResource, override: z.boolean().optional().describe(overrideDescription) }),
    z.strictObject({ ...forPrincipal, override: z.boolean().optional().describe(overrideDescription) }),
  ]),
  'A manual grant: pull or push on one registry for a resource’s identities or one principal.',
);
export type GrantRequest = z.infer<typeof GrantRequestSchema>;

export const RevokeRequestSchema = named(
  'RevokeRequest',
  z.union([z.strictObject(forResource), z.strictObject(forPrincipal)]),
  'A manual revoke: removes the assignments of the automation that give this access; others are left as they are.',
);
export type RevokeRequest = z.infer<typeof RevokeRequestSchema>;

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
const Revoke = z.object({
  name: z.string(),
  scope: z.string(),
  registryName: z.string(),
  principalId: z.string(),
  role: Role,
  reason: z.string(),
});
const Unchanged = z.object({
  name: z.string(),
  scope: z.string(),
  registryName: z.string(),
  principalId: z.string(),
  role: Role,
  owned: z.boolean(),
  reason: z.string(),
});
const Denial = z.object({
  scope: z.string().optional(),
  registryName: z.string().optional(),
  access: Access.optional(),
  principalIds: z.array(z.string()),
  reason: z.string(),
});
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

const Decisions = z.array(AuditRecordSchema.omit({ id: true, time: true }));
const ManualRegistry = named(
  'ManualRegistry',
  z.object({
    id: z.string(),
    name: z.string(),
    loginServer: z.string().optional(),
    roleAssignmentMode: z.string().optional().describe('Absent means LegacyRegistryPermissions.'),
  }),
);
const Consent = z.object({
  allowed: z.boolean(),
  reason: z.string().describe('Which acr-pull-allow rule (acr-push-allow for push) decided, and the consumer fact it turned on.'),
});
const ManualAssignment = z.object({
  name: z.string(),
  scope: z.string(),
  principalId: z.string(),
  role: Role,
  outcome: z.enum(Object.values(AUDIT_OUTCOMES) as [string, ...string[]]),
});

export const GrantResultSchema = named(
  'GrantResult',
  z.object({
    outcome: z
      .enum(Object.values(MANUAL_GRANT_OUTCOMES) as [string, ...string[]])
      .describe(
        'granted (propagation pending: Azure RBAC can take minutes), already-present, or in a preview would-grant / denied-by-consent.',
      ),
    override: z.boolean().describe('Whether registry consent was overridden.'),
    consent: Consent,
    registry: ManualRegistry,
    resourceId: z.string().optional(),
    principalIds: z.array(z.string()),
    role: Role.describe('The role the registry’s mode calls for.'),
    assignments: z.array(ManualAssignment),
    decisions: Decisions.describe('The audit rows written (in a preview, those a real request would write).'),
    plan: AccessPlanSchema.optional(),
  }),
);

export const RevokeResultSchema = named(
  'RevokeResult',
  z.object({
    outcome: z
      .enum(Object.values(MANUAL_REVOKE_OUTCOMES) as [string, ...string[]])
      .describe(
        'revoked; kept when another resource holding the same principal (a shared identity) still asks for it — the audit row names it; or nothing-to-revoke when the target holds no such role there.',
      ),
    registry: ManualRegistry,
    resourceId: z.string().optional(),
    principalIds: z.array(z.string()),
    assignments: z
      .array(ManualAssignment)
      .describe('Each assignment giving that access: revoked, or skipped when the automation did not make it.'),
    decisions: Decisions,
  }),
);

export const PreviewResultSchema = named(
  'PreviewResult',
  z.object({
    resourceId: z.string().optional().describe('The resource previewed; absent for a principal.'),
    principalId: z.string().optional().describe('The principal previewed, for a principal and a registry.'),
    dryRun: z.literal(true),
    outcome: z.string().optional().describe('For a manual-grant preview: would-grant, already-present or denied-by-consent.'),
    decisions: Decisions.describe('The audit rows a real run would write, in order.'),
    plans: z
      .array(z.object({ consumerId: z.string().describe('The consumer resource id, or the principal id.'), plan: AccessPlanSchema }))
      .describe('One plan per consumer settled.'),
  }),
);
