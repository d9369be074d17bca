/**
 * A run holding an enrolment's lease (Table Storage, ETag-conditional writes): the only way the
 * rotation and enrolment runs write the row. Each write renews the lease; every Azure call gets a
 * timeout well inside it; a rotation request another run records meanwhile is taken in, never lost.
 */
import { randomUUID } from 'node:crypto';
import type { AuditEntry } from '../audit/auditLog.js';
import type { CredentialsDeps, RunOptions } from './deps.js';
import { ENROLMENT_STATUSES, hasOpenRequest, isLeaseHeld, type Enrolment, type RotationStep, type StoredEnrolment } from './enrolment.js';
import { ConcurrencyConflictError } from './enrolmentStore.js';

/** How often one write takes in a newly recorded rotation request and tries again before giving up. */
const MAX_REQUEST_MERGES = 5;

/** A run holding an enrolment's lease: each save is an ETag-conditional write that renews it. */
export class CredentialsRun {
  readonly actions: string[] = [];
  readonly runId = randomUUID();
  #row: StoredEnrolment;

  private constructor(
    readonly deps: CredentialsDeps,
    row: StoredEnrolment,
    readonly options: RunOptions,
  ) {
    this.#row = row;
  }

  get row(): StoredEnrolment {
    return this.#row;
  }

  /**
   * Takes the enrolment's lease, or answers undefined when another live run holds it (or took it
   * between our read and our write).
   */
  static async acquire(deps: CredentialsDeps, row: StoredEnrolment, options: RunOptions): Promise<CredentialsRun | undefined> {
    if (isLeaseHeld(row, deps.now())) return undefined;
    const run = new CredentialsRun(deps, row, options);
    try {
      await run.save({});
    } catch (error) {
      if (error instanceof ConcurrencyConflictError) return undefined;
      throw error;
    }
    return run;
  }

  /**
   * Writes the row with these changes (undefined clears a field) and renews the lease. A rotation
   * request recorded since our last write (the only write another run makes to a row we hold) is
   * taken in and the write made again; any other change means we lost the lease.
   */
  async save(patch: Partial<Enrolment>): Promise<StoredEnrolment> {
    for (let attempt = 0; ; attempt++) {
      const leaseUntil = new Date(this.deps.now().getTime() + this.deps.leaseSeconds * 1000).toISOString();
      try {
        this.#row = await this.deps.store.replace({ ...this.#row, ...patch, leaseOwner: this.runId, leaseUntil });
        return this.#row;
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError) || attempt >= MAX_REQUEST_MERGES) throw error;
        await this.takeRequest();
      }
    }
  }

  /** Re-reads the row for a rotation request recorded since our last write; throws if we lost the lease. */
  async takeRequest(): Promise<void> {
    const fresh = await this.deps.store.get(this.#row.registryId);
    if (!fresh || fresh.leaseOwner !== this.runId)
      throw new ConcurrencyConflictError(`another run took the enrolment of ${this.#row.registryName}`);
    this.#row = {
      ...this.#row,
      rotationRequestedAt: fresh.rotationRequestedAt,
      rotationRequestedBy: fresh.rotationRequestedBy,
      rotationRequestedReason: fresh.rotationRequestedReason,
      etag: fresh.etag,
    };
  }

  /**
   * Options for one Azure call: an `abortSignal` that fires after the call timeout. When less than
   * two timeouts of the lease remain, the lease is renewed first, so the call ends (one way or the
   * other) while this run still holds the enrolment.
   */
  async call(): Promise<{ abortSignal: AbortSignal }> {
    const timeoutMs = this.deps.callTimeoutMs;
    const left = Date.parse(this.#row.leaseUntil ?? '') - this.deps.now().getTime();
    if (!(left > 2 * timeoutMs)) await this.save({});
    return { abortSignal: AbortSignal.timeout(timeoutMs) };
  }

  /**
   * Gives the lease back so the next run need not wait for it to lapse. When a rotation request was
   * recorded since our last write and may run now, the lease is kept and false answered: the caller
   * honours it first (`force` releases anyway, leaving the request for the next run). Best effort.
   */
  async release(patch: Partial<Enrolment> = {}, force = false): Promise<boolean> {
    const mayRotate = () => !force && this.#row.status === ENROLMENT_STATUSES.active && hasOpenRequest(this.#row, this.deps.now());
    if (mayRotate()) return false;
    for (let attempt = 0; ; attempt++) {
      try {
        this.#row = await this.deps.store.replace({ ...this.#row, ...patch, leaseOwner: undefined, leaseUntil: undefined });
        return true;
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        if (attempt >= MAX_REQUEST_MERGES) return true;
        try {
          await this.takeRequest();
        } catch (lost) {
          if (lost instanceof ConcurrencyConflictError) return true;
          throw lost;
        }
        if (mayRotate()) return false;
      }
    }
  }

  async step(step: RotationStep): Promise<void> {
    this.actions.push(step);
    this.options.log?.info(`rotation step ${step}`, { registryId: this.row.registryId, step, phase: this.row.phase });
    await this.options.afterStep?.(step, this.row);
  }

  async audit(entry: Omit<AuditEntry, 'registry' | 'resourceId' | 'eventId' | 'caller' | 'correlationId'>): Promise<void> {
    const trigger = this.options.trigger ?? {};
    await this.deps.audit.record({
      ...entry,
      registry: this.row.registryId,
      resourceId: this.row.registryId,
      ...(this.row.servicePrincipalId && !entry.principalId ? { principalId: this.row.servicePrincipalId } : {}),
      ...(trigger.eventId ? { eventId: trigger.eventId } : {}),
      ...(trigger.caller ? { caller: trigger.caller } : {}),
      ...(trigger.correlationId ? { correlationId: trigger.correlationId } : {}),
      details: { ...(this.row.appId ? { appId: this.row.appId } : {}), ...entry.details },
    });
  }
}
