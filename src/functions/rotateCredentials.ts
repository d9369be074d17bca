/**
 * Credential rotation triggers: the timer (`%ROTATION_SCHEDULE%`) and Key Vault's
 * `Microsoft.KeyVault.SecretNearExpiry` events. Each handler parses its input and calls a use case.
 */
import { app, type EventGridEvent, type InvocationContext, type Timer } from '@azure/functions';
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { CredentialsDeps } from '../credentials/deps.js';
import { listEnrolments, onSecretNearExpiry, rotateDueCredentials } from '../credentials/useCases.js';
import { getDeps } from '../deps.js';
import { invocationLogger } from '../log.js';
import { reportCredentialsNeedingAttention } from '../api/status/credentialAttention.js';

export const SECRET_NEAR_EXPIRY = 'Microsoft.KeyVault.SecretNearExpiry';

/** The credentials dependencies, built once by the composition root. */
function credentialsDeps(): CredentialsDeps {
  return getDeps().credentials;
}

/** The timer: every enrolled registry whose password is due, plus any step an earlier run left. */
export async function rotateCredentialsTimer(_timer: Timer, context: InvocationContext): Promise<void> {
  const log = invocationLogger(context);
  const { results, failures } = await rotateDueCredentials(credentialsDeps(), { log });
  log.info('rotation sweep finished', {
    checked: results.length + failures.length,
    rotated: results.filter((r) => r.outcome === 'rotated').length,
    failed: failures.length,
  });
  // What the run left for a person: the alert rule on this line wakes someone before consumers break.
  reportCredentialsNeedingAttention(await listEnrolments(credentialsDeps()), log);
}

/**
 * Key Vault near-expiry of a secret we manage: rotate now. Data is PascalCase on the wire
 * (https://learn.microsoft.com/azure/event-grid/event-schema-key-vault). Other events and other
 * secrets are acknowledged with a `skipped` audit row saying why, as resourceEvents does for what it
 * does not handle (every input that reaches a function leaves a row); only transient errors escape (redelivery).
 */
export async function keyVaultSecretEvents(event: EventGridEvent, context: InvocationContext): Promise<void> {
  const log = invocationLogger(context, { eventId: event.id });
  const skip = (reason: string) =>
    credentialsDeps().audit.record({ action: 'event', outcome: AUDIT_OUTCOMES.skipped, reason, eventId: event.id });
  if (event.eventType !== SECRET_NEAR_EXPIRY) {
    log.info('not a secret near-expiry event; ignored', { eventType: event.eventType });
    await skip(`event type ${String(event.eventType).slice(0, 200)} is not ${SECRET_NEAR_EXPIRY}; nothing to rotate`);
    return;
  }
  const data = (event.data ?? {}) as Record<string, unknown>;
  const vaultName = data['VaultName'];
  const objectName = data['ObjectName'] ?? event.subject;
  if (typeof vaultName !== 'string' || typeof objectName !== 'string') {
    await credentialsDeps().audit.record({
      action: 'event',
      outcome: AUDIT_OUTCOMES.rejectedInput,
      errorCode: 'InvalidEvent',
      reason: 'SecretNearExpiry event without VaultName or ObjectName',
      eventId: event.id,
    });
    return;
  }
  const version = typeof data['Version'] === 'string' ? data['Version'] : undefined;
  const result = await onSecretNearExpiry(
    credentialsDeps(),
    { VaultName: vaultName, ObjectName: objectName, Version: version },
    { log, trigger: { eventId: event.id } },
  );
  log.info('secret near expiry handled', { vaultName, secretName: objectName, outcome: result.outcome });
  if (result.outcome === 'not-ours')
    await skip(`secret ${objectName.slice(0, 200)} in vault ${vaultName.slice(0, 200)} is not a pull password the automation manages`);
  else if (result.outcome === 'already-replaced')
    await skip(`secret ${objectName.slice(0, 200)} in vault ${vaultName.slice(0, 200)} was already replaced by a newer version`);
}

app.timer('rotateCredentials', { schedule: '%ROTATION_SCHEDULE%', handler: rotateCredentialsTimer });
app.eventGrid('keyVaultSecretEvents', { handler: keyVaultSecretEvents });
