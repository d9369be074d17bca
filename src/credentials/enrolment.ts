/**
 * A registry enrolled for pull credentials, and the rotation state persisted with it.
 * Pure: names, due times and views; no I/O.
 */
import { InvalidInputError } from '../errors.js';
import { RESOURCE_TYPES } from '../policy/resourceTypes.js';

export const ENROLMENT_STATUSES = { enrolling: 'enrolling', active: 'active', unenrolled: 'unenrolled' } as const;
export type EnrolmentStatus = (typeof ENROLMENT_STATUSES)[keyof typeof ENROLMENT_STATUSES];

/** Who decides an enrolment: the registry's acr-pull-credential tag, or the HTTP API (see enrolmentRule.ts). */
export const ENROLMENT_SOURCES = { tag: 'tag', api: 'api' } as const;
export type EnrolmentSource = (typeof ENROLMENT_SOURCES)[keyof typeof ENROLMENT_SOURCES];

/**
 * Where a rotation is. Each phase is written before the next step starts, so a run that
 * stops anywhere leaves a state the next run can finish or undo:
 *   idle    nothing in flight
 *   adding  about to call addPassword (the password's displayName carries the rotationId)
 *   added   the new password exists on the application (keyId known) but may not be stored
 *   stored  Key Vault's latest version is the new password; not yet proven
 * Proving and marking the password current is one write: back to idle with current/previous moved.
 */
export const ROTATION_PHASES = { idle: 'idle', adding: 'adding', added: 'added', stored: 'stored' } as const;
export type RotationPhase = (typeof ROTATION_PHASES)[keyof typeof ROTATION_PHASES];

/** Step boundaries a run passes, in order; `afterStep` hooks see these names. */
export const ROTATION_STEPS = {
  started: 'started',
  passwordAdded: 'password-added',
  secretStored: 'secret-stored',
  proven: 'proven',
  markedCurrent: 'marked-current',
  previousRemoved: 'previous-removed',
} as const;
export type RotationStep = (typeof ROTATION_STEPS)[keyof typeof ROTATION_STEPS];

export interface Enrolment {
  /** Registry resource id as first seen. */
  readonly registryId: string;
  readonly registryName: string;
  readonly vaultName: string;
  /** Rotation period from the registry's `acr-pull-credential-days` tag; undefined = the setting. */
  readonly periodDays?: number;
  readonly status: EnrolmentStatus;
  /** Who made the enrolment: the registry's tag or the HTTP API (enrolmentRule.ts); undefined = tag. */
  readonly source?: EnrolmentSource;
  readonly appId?: string;
  /** The application's object id (Graph `id`). */
  readonly applicationObjectId?: string;
  /** The service principal's object id: the principalId of its role assignment. */
  readonly servicePrincipalId?: string;
  /** True when the application was given to us (appId) rather than created. */
  readonly adopted?: boolean;
  /** Set while we are creating the application, so a crash can find what it created. */
  readonly creatingApplication?: boolean;
  readonly role?: string;

  readonly phase: RotationPhase;
  readonly rotationId?: string;
  readonly rotationReason?: string;
  readonly pendingKeyId?: string;
  readonly pendingExpiresOn?: string;
  readonly pendingSecretVersion?: string;

  readonly currentKeyId?: string;
  readonly currentCreatedAt?: string;
  readonly currentExpiresOn?: string;
  readonly currentSecretVersion?: string;
  readonly previousKeyId?: string;
  readonly previousRemoveAfter?: string;

  /**
   * A rotation that was asked for while the previous password was still in its grace period:
   * it waits until then (a password Key Vault served stays valid for the grace period), and any
   * run after this time performs it.
   */
  readonly rotationDeferredUntil?: string;
  readonly rotationDeferredReason?: string;

  /**
   * A rotation asked for (rotate now, near-expiry) while another run held the lease, recorded with
   * an ETag-conditional write so it outlives that run: whichever run next holds the lease honours it
   * (the holder when it finishes, the next request, the timer). It is cleared by the first rotation
   * that stores its new password in Key Vault after it was recorded — the password served when it
   * was asked for is then replaced.
   */
  readonly rotationRequestedAt?: string;
  /** Who asked (the caller, or the event), for the audit trail. */
  readonly rotationRequestedBy?: string;
  readonly rotationRequestedReason?: string;

  /** The run that holds the row, and until when; a run that died loses it when it lapses. */
  readonly leaseOwner?: string;
  readonly leaseUntil?: string;

  readonly enrolledAt?: string;
  readonly lastRotatedAt?: string;
  readonly lastErrorCode?: string;
}

/** An enrolment as read from the store, with the ETag its next write must match. */
export interface StoredEnrolment extends Enrolment {
  readonly etag: string;
}

/** What the HTTP API and the timer show: no secret values, only ids and times. */
export interface EnrolmentView {
  readonly registryId: string;
  readonly registryName: string;
  readonly vaultName: string;
  readonly status: EnrolmentStatus;
  readonly source: EnrolmentSource;
  readonly appId?: string;
  readonly servicePrincipalId?: string;
  readonly usernameSecret: string;
  readonly passwordSecret: string;
  readonly periodDays: number;
  readonly phase: RotationPhase;
  readonly currentKeyId?: string;
  readonly currentExpiresOn?: string;
  readonly nextRotationAt?: string;
  readonly previousKeyId?: string;
  readonly previousRemoveAfter?: string;
  readonly rotationDeferredUntil?: string;
  /** A recorded rotation request not yet carried out (see Enrolment.rotationRequestedAt). */
  readonly rotationRequestedAt?: string;
  readonly lastRotatedAt?: string;
}

/** Names derived from the registry, as the Container Instances docs use them. */
export function usernameSecretName(registryName: string): string {
  return `${registryName.toLowerCase()}-pull-usr`;
}
export function passwordSecretName(registryName: string): string {
  return `${registryName.toLowerCase()}-pull-pwd`;
}
export function applicationDisplayName(registryName: string): string {
  return `${registryName.toLowerCase()}-pull`;
}

/** Prefix of every password displayName we create: how we recognise our own passwords. */
export const PASSWORD_DISPLAY_NAME_PREFIX = 'acr-pull-automation';
export function passwordDisplayName(rotationId: string): string {
  return `${PASSWORD_DISPLAY_NAME_PREFIX} ${rotationId}`;
}
export function isOurPassword(displayName: string | undefined): boolean {
  return displayName?.startsWith(`${PASSWORD_DISPLAY_NAME_PREFIX} `) ?? false;
}

const DAY_MS = 86_400_000;

export function effectivePeriodDays(enrolment: Pick<Enrolment, 'periodDays'>, defaultPeriodDays: number): number {
  return enrolment.periodDays ?? defaultPeriodDays;
}

/** When the current password is due for replacement: at two thirds of its life. */
export function nextRotationAt(enrolment: Pick<Enrolment, 'currentCreatedAt' | 'periodDays'>, defaultPeriodDays: number): Date | undefined {
  if (!enrolment.currentCreatedAt) return undefined;
  const created = Date.parse(enrolment.currentCreatedAt);
  return new Date(created + (effectivePeriodDays(enrolment, defaultPeriodDays) * DAY_MS * 2) / 3);
}

export function passwordExpiresOn(now: Date, periodDays: number): Date {
  return new Date(now.getTime() + periodDays * DAY_MS);
}

/**
 * Whether a rotation is wanted now. A password never made current is always due; so is a
 * rotation that was deferred until a time now past.
 */
export function isRotationDue(enrolment: Enrolment, defaultPeriodDays: number, now: Date): boolean {
  const due = nextRotationAt(enrolment, defaultPeriodDays);
  if (due === undefined || due.getTime() <= now.getTime() || hasOpenRequest(enrolment, now)) return true;
  return enrolment.rotationDeferredUntil !== undefined && Date.parse(enrolment.rotationDeferredUntil) <= now.getTime();
}

/**
 * Whether a recorded rotation request waits for a run now. A request that a deferral already
 * covers (the grace period of the previous password) waits for that time, not for every run.
 */
export function hasOpenRequest(enrolment: Enrolment, now: Date): boolean {
  if (enrolment.rotationRequestedAt === undefined) return false;
  return enrolment.rotationDeferredUntil === undefined || Date.parse(enrolment.rotationDeferredUntil) <= now.getTime();
}

/** The fields of a rotation request, cleared (written as undefined) by the rotation that honours it. */
export const NO_ROTATION_REQUEST = {
  rotationRequestedAt: undefined,
  rotationRequestedBy: undefined,
  rotationRequestedReason: undefined,
} as const;

/**
 * Until when a new rotation must wait: the previous password was served by Key Vault until the
 * last rotation and stays valid until `previousRemoveAfter`; a new rotation would have to remove
 * it first. Undefined when a rotation may go ahead now.
 */
export function rotationBlockedUntil(enrolment: Pick<Enrolment, 'previousKeyId' | 'previousRemoveAfter'>, now: Date): Date | undefined {
  if (enrolment.previousKeyId === undefined || enrolment.previousRemoveAfter === undefined) return undefined;
  const until = Date.parse(enrolment.previousRemoveAfter);
  return until > now.getTime() ? new Date(until) : undefined;
}

export function isPreviousRemovable(enrolment: Enrolment, now: Date): boolean {
  return (
    enrolment.previousKeyId !== undefined &&
    (enrolment.previousRemoveAfter === undefined || Date.parse(enrolment.previousRemoveAfter) <= now.getTime())
  );
}

export function isLeaseHeld(enrolment: Enrolment, now: Date): boolean {
  return enrolment.leaseUntil !== undefined && Date.parse(enrolment.leaseUntil) > now.getTime();
}

export function toEnrolmentView(enrolment: Enrolment, defaultPeriodDays: number): EnrolmentView {
  const next = enrolment.status === ENROLMENT_STATUSES.active ? nextRotationAt(enrolment, defaultPeriodDays) : undefined;
  return stripUndefined({
    registryId: enrolment.registryId,
    registryName: enrolment.registryName,
    vaultName: enrolment.vaultName,
    status: enrolment.status,
    source: enrolment.source ?? 'tag',
    appId: enrolment.appId,
    servicePrincipalId: enrolment.servicePrincipalId,
    usernameSecret: usernameSecretName(enrolment.registryName),
    passwordSecret: passwordSecretName(enrolment.registryName),
    periodDays: effectivePeriodDays(enrolment, defaultPeriodDays),
    phase: enrolment.phase,
    currentKeyId: enrolment.currentKeyId,
    currentExpiresOn: enrolment.currentExpiresOn,
    nextRotationAt: next?.toISOString(),
    previousKeyId: enrolment.previousKeyId,
    previousRemoveAfter: enrolment.previousRemoveAfter,
    rotationDeferredUntil: enrolment.rotationDeferredUntil,
    rotationRequestedAt: enrolment.rotationRequestedAt,
    lastRotatedAt: enrolment.lastRotatedAt,
  });
}

export interface RegistryRef {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
}

const REGISTRY_ID = new RegExp(
  `^/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/${RESOURCE_TYPES.registry.type.replace('.', '\\.')}/([^/]+)/?$`,
  'i',
);

/** The parts of a registry resource id (compared case-insensitively, as ARM does). */
export function parseRegistryId(registryId: string): RegistryRef {
  const match = REGISTRY_ID.exec(registryId.trim());
  if (!match) {
    throw new InvalidInputError(
      'InvalidRegistryId',
      `"${registryId}" is not a container registry resource id (/subscriptions/…/resourceGroups/…/providers/${RESOURCE_TYPES.registry.type}/<name>)`,
    );
  }
  return { subscriptionId: match[1]!.toLowerCase(), resourceGroup: match[2]!.toLowerCase(), name: match[3]!.toLowerCase() };
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
