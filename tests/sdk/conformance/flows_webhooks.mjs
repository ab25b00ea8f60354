// Flows over webhook endpoints and the Events API: endpoints with their own
// secrets, events carrying the request that caused them, and the receiver
// getting what the Events API lists.

import { check, eq, flow } from './harness.mjs';

flow(
  'webhook_endpoints_and_events',
  async ({ stripe, runId, hooks, endpoint, expectEvents }) => {
    const second = await stripe.webhookEndpoints.create({
      url: `${hooks.url}/second`,
      enabled_events: ['customer.created', 'customer.updated'],
      metadata: { n: '2' },
    });
    check(second.id.startsWith('we_') && second.secret.startsWith('whsec_'), 'endpoint id and secret', second);
    check(second.secret !== endpoint.secret, 'each endpoint has its own secret');
    hooks.secrets['/webhooks/second'] = second.secret;
    eq([second.status, second.enabled_events], ['enabled', ['customer.created', 'customer.updated']], 'endpoint');
    const retrieved = await stripe.webhookEndpoints.retrieve(second.id);
    check(retrieved.secret == null, 'the secret is only in the create answer', retrieved);
    const listed = (await stripe.webhookEndpoints.list({ limit: 100 })).data.map((e) => e.id);
    check(listed.includes(endpoint.id) && listed.includes(second.id), 'both endpoints listed', listed);
    const deleted = await stripe.webhookEndpoints.del(second.id);
    eq([deleted.id, deleted.deleted], [second.id, true], 'endpoint deleted');

    const idempotencyKey = `events-node-${runId}`;
    const customer = await stripe.customers.create({ email: 'events@example.com' }, { idempotencyKey });
    const requestId = customer.lastResponse.requestId;
    const arrived = (await expectEvents(['customer.created'], customer.id))['customer.created'];
    const event = await stripe.events.retrieve(arrived.id);
    eq([event.type, event.data.object.id, event.livemode], ['customer.created', customer.id, false], 'events.retrieve');
    eq([event.request.id, event.request.idempotency_key], [requestId, idempotencyKey], 'event.request names the causing request');
    const events = (await stripe.events.list({ type: 'customer.created', limit: 100 })).data;
    check(events.some((e) => e.id === arrived.id), 'events.list(type=…)');
    check(events.every((e) => e.type === 'customer.created'), 'only that type');
    eq(arrived.data.object.email, 'events@example.com', 'the delivered snapshot');
  },
  { needsHooks: true },
);
