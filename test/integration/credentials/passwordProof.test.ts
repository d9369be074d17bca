/**
 * The proof before a switch (issue #5): a client-credentials token request with the new password.
 * Entra refusing a password is an answer (`ok: false` with Entra's error code), not a transient
 * failure: the rotation records it ("did not get a token yet") and proves again on the next run.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPasswordProof } from '../../../src/azure/passwordProof.js';
import { enrolRegistry } from '../../../src/credentials/useCases.js';
import { Secret } from '../../../src/secret.js';
import { startWorld, type World } from './world.js';

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => world?.stop());

it('answers ok for the password Key Vault serves and Entra’s error code for a wrong one', async () => {
  const r = await world.newRegistry();
  const { enrolment } = await enrolRegistry(world.deps(), { registryId: r.registryId, vaultName: r.vaultName });
  const proof = createPasswordProof(world.config, { clientOptions: world.emulator.clientOptions });
  const served = await world.deps().vaults.getSecret(r.vaultName, `${r.registryName}-pull-pwd`);
  expect(await proof.prove(enrolment.appId!, served!.value)).toEqual({ ok: true });

  // Entra answers 401 invalid_client (AADSTS7000215); MSAL surfaces it as a ServerError, which
  // @azure/identity wraps in AuthenticationRequiredError, not AuthenticationError.
  expect(await proof.prove(enrolment.appId!, new Secret('not-the-password'))).toEqual({ ok: false, errorCode: 'invalid_client' });
});
