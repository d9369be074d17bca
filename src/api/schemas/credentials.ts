/** Schemas of `/api/credentials`: enrolment requests and the views the credentials use cases return. */
import { z } from 'zod';
import { ENROLMENT_STATUSES, ROTATION_PHASES } from '../../credentials/enrolment.js';
import { ENROLMENT_SOURCES } from '../../credentials/enrolmentRule.js';
import { ROTATION_OUTCOMES } from '../../credentials/rotation.js';
import { ENROL_OUTCOMES } from '../../credentials/useCases.js';
import { named, PrincipalId, RegistryId, RegistryName } from './common.js';

const values = <T extends Record<string, string>>(o: T) => Object.values(o) as [T[keyof T], ...T[keyof T][]];

/** Key Vault names: 3-24 letters, digits and hyphens, starting with a letter. */
export const VaultName = named(
  'VaultName',
  z
    .string()
    .regex(
      /^[A-Za-z](?:[A-Za-z0-9]|-(?!-)){1,22}[A-Za-z0-9]$/,
      'a vault name is 3-24 letters, digits and single hyphens, starting with a letter',
    )
    .meta({ examples: ['demo-vault'] }),
  'A Key Vault name.',
);

export const EnrolRequestSchema = named(
  'EnrolRequest',
  z.strictObject({
    registryId: RegistryId,
    vaultName: VaultName.describe('The vault that receives <registry>-pull-usr and <registry>-pull-pwd.'),
    periodDays: z
      .number()
      .int()
      .min(1)
      .max(730)
      .optional()
      .describe(
        'Password lifetime in days (rotated at two thirds). Default: ROTATION_PERIOD_DAYS. At least 31 + ROTATION_GRACE_HOURS in whole days (32 by default): ' +
          'Key Vault announces SecretNearExpiry 30 days before expiry, so a shorter period would rotate every new password at once (400 InvalidPeriod).',
      ),
    appId: PrincipalId.optional().describe('Adopt this existing application (client id) instead of creating one.'),
  }),
  'Enrol a registry for pull credentials.',
);

export const RegistryPathSchema = named(
  'RegistryPath',
  z.strictObject({ registry: RegistryName.describe('The enrolled registry’s name.') }),
);

export const EnrolmentSchema = named(
  'Enrolment',
  z.object({
    registryId: z.string(),
    registryName: z.string(),
    vaultName: z.string(),
    status: z.enum(values(ENROLMENT_STATUSES)),
    source: z
      .enum(values(ENROLMENT_SOURCES))
      .describe(
        'Who decides the enrolment: the registry’s acr-pull-credential tag (tag), or this API for a registry without the tag (api); registry events and the sweep leave an api enrolment alone.',
      ),
    appId: z.string().optional(),
    servicePrincipalId: z.string().optional(),
    usernameSecret: z.string().describe('Key Vault secret holding the username (the application id).'),
    passwordSecret: z.string().describe('Key Vault secret holding the password. Its value is never returned by this API.'),
    periodDays: z.number().int(),
    phase: z.enum(values(ROTATION_PHASES)),
    currentKeyId: z.string().optional(),
    currentExpiresOn: z.string().optional().describe('When the password Key Vault serves expires.'),
    nextRotationAt: z.string().optional().describe('When the next rotation is due.'),
    previousKeyId: z.string().optional(),
    previousRemoveAfter: z
      .string()
      .optional()
      .describe('When the previous password is removed: ROTATION_GRACE_HOURS after Key Vault stopped serving it.'),
    rotationDeferredUntil: z
      .string()
      .optional()
      .describe('A rotation asked for during the previous password’s grace period waits until then.'),
    rotationRequestedAt: z
      .string()
      .optional()
      .describe('A rotation asked for while another run held the registry, recorded and not yet carried out.'),
    lastRotatedAt: z.string().optional(),
  }),
  'An enrolled registry: ids and times, never a secret value.',
);

export const EnrolmentDetailSchema = named(
  'EnrolmentDetail',
  EnrolmentSchema.extend({
    passwordConsumers: z
      .array(
        z.object({
          resourceId: z.string(),
          name: z.string(),
          server: z.string().describe('The login server its registry credential is for.'),
        }),
      )
      .describe(
        'Resources that use the pull password by value (container groups whose imageRegistryCredentials username is the application id): they fail at their next restart once the previous password is removed (previousRemoveAfter) — redeploy them before then.',
      ),
  }),
  'An enrolled registry, and who still uses its password by value.',
);

export const EnrolmentListSchema = named('EnrolmentList', z.object({ items: z.array(EnrolmentSchema) }));

export const RotationResultSchema = named(
  'RotationResult',
  z.object({
    outcome: z.enum(values(ROTATION_OUTCOMES)),
    registryId: z.string(),
    currentKeyId: z.string().optional(),
    nextRotationAt: z.string().optional(),
    deferredUntil: z
      .string()
      .optional()
      .describe(
        'Outcome deferred: the previous password stays valid until then (ROTATION_GRACE_HOURS after Key Vault stopped serving it); the first run after this time rotates.',
      ),
    reason: z.string().optional().describe('Outcome deferred or recorded: why the rotation waits, and who carries it out.'),
    requestedAt: z
      .string()
      .optional()
      .describe(
        'Outcome recorded: when the request was recorded in the enrolment; the first rotation that stores a new password after this time carries it out.',
      ),
    leaseUntil: z
      .string()
      .optional()
      .describe(
        'Outcome recorded: until when another run holds the registry (CREDENTIALS_LEASE_SECONDS, renewed while that run is alive); it carries the request out when it finishes.',
      ),
    runsBy: z
      .string()
      .optional()
      .describe(
        'Outcome recorded: the latest time the rotation runs — the rotation timer’s first run after the lease and any grace-period deferral, if no run comes sooner.',
      ),
    actions: z.array(z.string()).describe('What the run did, in order.'),
  }),
);

export const EnrolResultSchema = named(
  'EnrolResult',
  z.object({ outcome: z.enum(values(ENROL_OUTCOMES)), enrolment: EnrolmentSchema, rotation: RotationResultSchema.optional() }),
);

export const UnenrolResultSchema = named(
  'UnenrolResult',
  z.object({ outcome: z.enum(['unenrolled', 'in-progress']), registryId: z.string(), applicationDeleted: z.boolean() }),
);
