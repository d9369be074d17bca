/**
 * Enrolments and their rotation state in Table Storage, one row per registry:
 *   PartitionKey  subscription id (lower case)
 *   RowKey        `<resource group>|<registry name>` (lower case; '/' is not allowed in keys)
 * Every write is conditional: insert fails if the row exists, replace carries the ETag read, so
 * two runs cannot both move one registry's state (https://learn.microsoft.com/rest/api/storageservices/update-entity2).
 */
import type { TableEntity } from '@azure/data-tables';
import type { LazyTable } from '../azure/tables.js';
import { AppError } from '../errors.js';
import { parseRegistryId, type Enrolment, type StoredEnrolment } from './enrolment.js';

/** Another run wrote the row since we read it (412), or created it first (409). */
export class ConcurrencyConflictError extends AppError {
  constructor(message: string) {
    super('ConcurrencyConflict', message);
  }
}

export interface EnrolmentStore {
  get(registryId: string): Promise<StoredEnrolment | undefined>;
  /** Inserts a new row; `ConcurrencyConflictError` when one exists. */
  create(enrolment: Enrolment): Promise<StoredEnrolment>;
  /** Replaces the row if its ETag still matches; `ConcurrencyConflictError` otherwise. */
  replace(enrolment: StoredEnrolment | (Enrolment & { etag: string })): Promise<StoredEnrolment>;
  list(): Promise<StoredEnrolment[]>;
}

export const ENROLMENT_TABLE_SUFFIX = 'credentials';

type Entity = TableEntity<Record<string, string | number | boolean>>;

const STRING_FIELDS = [
  'registryId',
  'registryName',
  'vaultName',
  'status',
  'appId',
  'applicationObjectId',
  'servicePrincipalId',
  'role',
  'phase',
  'rotationId',
  'rotationReason',
  'pendingKeyId',
  'pendingExpiresOn',
  'pendingSecretVersion',
  'currentKeyId',
  'currentCreatedAt',
  'currentExpiresOn',
  'currentSecretVersion',
  'previousKeyId',
  'previousRemoveAfter',
  'leaseOwner',
  'leaseUntil',
  'enrolledAt',
  'lastRotatedAt',
  'lastErrorCode',
  'source',
  'rotationDeferredUntil',
  'rotationDeferredReason',
  'rotationRequestedAt',
  'rotationRequestedBy',
  'rotationRequestedReason',
] as const satisfies ReadonlyArray<keyof Enrolment>;

export function enrolmentKeys(registryId: string): { partitionKey: string; rowKey: string } {
  const ref = parseRegistryId(registryId);
  return { partitionKey: ref.subscriptionId, rowKey: `${ref.resourceGroup}|${ref.name}` };
}

/** The store over one table of the app's storage account. */
export function createTableEnrolmentStore(table: LazyTable): EnrolmentStore {
  return {
    async get(registryId) {
      const client = await table.client();
      const { partitionKey, rowKey } = enrolmentKeys(registryId);
      try {
        return fromEntity(await client.getEntity<Entity>(partitionKey, rowKey));
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw error;
      }
    },
    async create(enrolment) {
      const client = await table.client();
      const entity = toEntity(enrolment);
      try {
        const response = await client.createEntity(entity);
        return { ...enrolment, etag: response.etag ?? '' };
      } catch (error) {
        if (statusOf(error) === 409)
          throw new ConcurrencyConflictError(`registry ${enrolment.registryName} is already enrolled or being enrolled`);
        throw error;
      }
    },
    async replace(enrolment) {
      const client = await table.client();
      const { etag, ...rest } = enrolment;
      try {
        const response = await client.updateEntity(toEntity(rest), 'Replace', { etag });
        return { ...rest, etag: response.etag ?? '' };
      } catch (error) {
        const status = statusOf(error);
        if (status === 412 || status === 404)
          throw new ConcurrencyConflictError(`another run changed the enrolment of ${enrolment.registryName}`);
        throw error;
      }
    },
    async list() {
      const client = await table.client();
      const found: StoredEnrolment[] = [];
      for await (const entity of client.listEntities<Entity>()) found.push(fromEntity(entity));
      return found;
    },
  };
}

function toEntity(enrolment: Enrolment): Entity {
  const entity: Entity = { ...enrolmentKeys(enrolment.registryId) };
  for (const field of STRING_FIELDS) {
    const value = enrolment[field];
    if (typeof value === 'string') entity[field] = value;
  }
  if (enrolment.periodDays !== undefined) entity['periodDays'] = enrolment.periodDays;
  if (enrolment.adopted) entity['adopted'] = true;
  if (enrolment.creatingApplication) entity['creatingApplication'] = true;
  return entity;
}

function fromEntity(entity: Record<string, unknown>): StoredEnrolment {
  const result: Record<string, unknown> = { etag: typeof entity['etag'] === 'string' ? entity['etag'] : '' };
  for (const field of STRING_FIELDS) {
    if (typeof entity[field] === 'string') result[field] = entity[field];
  }
  if (typeof entity['periodDays'] === 'number') result['periodDays'] = entity['periodDays'];
  if (entity['adopted'] === true) result['adopted'] = true;
  if (entity['creatingApplication'] === true) result['creatingApplication'] = true;
  result['phase'] ??= 'idle';
  return result as unknown as StoredEnrolment;
}

function statusOf(error: unknown): number | undefined {
  return error && typeof error === 'object' && 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : undefined;
}
