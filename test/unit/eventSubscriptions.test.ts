import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { APP_EVENT_SUBSCRIPTIONS, KEY_VAULT_EVENT_SUBSCRIPTION } from '../../src/eventSubscriptions.js';

// The stack subscribes these on the emulator; the infra generates its Azure subscriptions from the
// function registrations. They must name the same functions and event types.
describe('app event subscriptions', () => {
  it('names each Event Grid function the app registers, once', () => {
    const registered = [...readFileSync('src/functions/resourceEvents.ts', 'utf8').matchAll(/app\.eventGrid\(\s*([\w.]+|'[^']+')/g)]
      .concat([...readFileSync('src/functions/rotateCredentials.ts', 'utf8').matchAll(/app\.eventGrid\(\s*'([^']+)'/g)])
      .map((m) => m[1]);
    const names = APP_EVENT_SUBSCRIPTIONS.map((s) => s.functionName);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('keyVaultSecretEvents');
    expect(registered).toContain(KEY_VAULT_EVENT_SUBSCRIPTION.functionName);
  });

  it('matches the Key Vault subscription the infra deploys', () => {
    const infra = JSON.parse(readFileSync('infra/generated/keyVaultEventSubscription.json', 'utf8')) as {
      functionName: string;
      includedEventTypes: string[];
    };
    expect({
      functionName: KEY_VAULT_EVENT_SUBSCRIPTION.functionName,
      includedEventTypes: [...KEY_VAULT_EVENT_SUBSCRIPTION.includedEventTypes],
    }).toEqual({
      functionName: infra.functionName,
      includedEventTypes: infra.includedEventTypes,
    });
  });
});
