/**
 * The Event Grid webhook, `/runtime/webhooks/eventgrid?functionName=…`: the CloudEvents abuse-protection
 * handshake (OPTIONS), the subscription validation handshake, and event batches, each event one
 * invocation; any failure answers 500 so Event Grid redelivers the batch.
 */
import { parseEventGridDelivery } from './eventGrid.js';
import { describe, headerValue, send, sendJson, type HostRequest, type HostRuntime } from './hostRequest.js';

export function eventGridWebhookHandler({ registry, invoke, hostLog }: HostRuntime) {
  return async ({ req, res, url, method, body }: HostRequest): Promise<void> => {
    const name = url.searchParams.get('functionName') ?? '';
    const fn = registry.functions.find(
      (f) => f.name.toLowerCase() === name.toLowerCase() && f.trigger.type.toLowerCase() === 'eventgridtrigger',
    );
    if (!fn) return send(res, 404, `No Event Grid function named "${name}".`);
    if (method === 'OPTIONS') {
      // CloudEvents 1.0 abuse protection: grant the requesting origin.
      const origin = headerValue(req, 'webhook-request-origin');
      if (!origin) return send(res, 400, 'WebHook-Request-Origin is required.');
      return send(res, 200, undefined, { 'webhook-allowed-origin': origin, 'webhook-allowed-rate': '*', allow: 'POST, OPTIONS' });
    }
    if (method !== 'POST') return send(res, 405, undefined, { allow: 'POST, OPTIONS' });
    const delivery = parseEventGridDelivery(req.headers, body.toString('utf8'));
    switch (delivery.kind) {
      case 'invalid':
        return send(res, 400, delivery.message);
      case 'validation':
        return sendJson(res, 200, { validationResponse: delivery.validationCode });
      case 'subscriptionDeletion':
        return send(res, 202);
      case 'events': {
        let failures = 0;
        for (const event of delivery.events) {
          try {
            await invoke(fn, { triggerData: { string: JSON.stringify(event) }, triggerMetadata: {} });
          } catch (error) {
            failures += 1;
            hostLog('error', `Function ${fn.name} failed on event ${String(event['id'])}: ${describe(error)}`);
          }
        }
        // Any failure answers 500 so Event Grid redelivers the batch.
        return send(res, failures > 0 ? 500 : 202);
      }
    }
  };
}
