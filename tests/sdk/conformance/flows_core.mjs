// Flows over the wire layer and the catalog: products, prices, customers,
// pagination, idempotency and the SDK's error classes.

import { KEY, Stripe, check, eq, flow, raises } from './harness.mjs';

flow('catalog_product_and_prices', async ({ stripe, runId }) => {
  const product = await stripe.products.create({ name: 'Pro plan', metadata: { tier: 'pro' } });
  check(product.id.startsWith('prod_'), 'product id prefix', product);
  eq([product.active, product.metadata], [true, { tier: 'pro' }], 'product');

  const oneTime = await stripe.prices.create({ product: product.id, unit_amount: 4900, currency: 'usd' });
  eq([oneTime.type, oneTime.unit_amount, oneTime.currency, oneTime.recurring], ['one_time', 4900, 'usd', null], 'one-time price');

  const lookupKey = `pro_monthly_${runId}`;
  const monthly = await stripe.prices.create({
    product: product.id,
    unit_amount: 1500,
    currency: 'usd',
    recurring: { interval: 'month' },
    lookup_key: lookupKey,
  });
  eq([monthly.type, monthly.recurring.interval, monthly.recurring.interval_count, monthly.lookup_key], ['recurring', 'month', 1, lookupKey], 'recurring price');

  const found = await stripe.prices.list({ lookup_keys: [lookupKey] });
  eq(found.data.map((p) => p.id), [monthly.id], 'prices.list(lookup_keys)');
  const byProduct = await stripe.prices.list({ product: product.id });
  eq(byProduct.data.map((p) => p.id).sort(), [monthly.id, oneTime.id].sort(), 'prices.list(product)');

  const renamed = await stripe.products.update(product.id, { name: 'Pro', metadata: { tier: '' } });
  eq([renamed.name, renamed.metadata], ['Pro', {}], 'product update (empty metadata value unsets)');
  const archived = await stripe.prices.update(oneTime.id, { active: false });
  eq(archived.active, false, 'price archived');
});

flow('customer_create_update_delete', async ({ stripe }) => {
  const customer = await stripe.customers.create({ email: 'ada@example.com', name: 'Ada', metadata: { user_id: '42' } });
  check(customer.id.startsWith('cus_'), 'customer id prefix', customer);
  eq([customer.email, customer.livemode, customer.metadata], ['ada@example.com', false, { user_id: '42' }], 'customer');
  const updated = await stripe.customers.update(customer.id, { name: 'Ada Lovelace', metadata: { plan: 'pro' } });
  eq(updated.metadata, { user_id: '42', plan: 'pro' }, 'metadata merges');
  eq((await stripe.customers.retrieve(customer.id)).name, 'Ada Lovelace', 'retrieve after update');
  const deleted = await stripe.customers.del(customer.id);
  eq([deleted.id, deleted.deleted], [customer.id, true], 'delete answers the stub');
});

flow('list_auto_paging', async ({ stripe, runId }) => {
  const email = `page-${runId}@example.com`;
  const created = [];
  for (let i = 0; i < 27; i += 1) created.push((await stripe.customers.create({ email, name: `n${i}` })).id);
  const newest = [...created].reverse();
  const first = await stripe.customers.list({ email, limit: 10 });
  eq([first.data.length, first.has_more], [10, true], 'first page');
  eq(first.data.map((c) => c.id), newest.slice(0, 10), 'newest first');
  const walked = [];
  for await (const c of stripe.customers.list({ email, limit: 10 })) walked.push(c.id);
  eq(walked, newest, 'for await walks all 27 once, newest first');
  const all = await stripe.customers.list({ email, limit: 10 }).autoPagingToArray({ limit: 100 });
  eq(all.map((c) => c.id), newest, 'autoPagingToArray');
  const before = await stripe.customers.list({ email, limit: 5, ending_before: created[10] });
  eq(before.data.map((c) => c.id), created.slice(11, 16).reverse(), 'ending_before page');
});

flow('idempotent_replay_and_mismatch', async ({ stripe, runId }) => {
  const idempotencyKey = `conformance-node-${runId}`;
  const params = { email: 'idem-node@example.com', metadata: { k: 'v' } };
  const first = await stripe.customers.create(params, { idempotencyKey });
  const again = await stripe.customers.create(params, { idempotencyKey });
  eq(again.id, first.id, 'same key, same object');
  eq(again.lastResponse.headers['idempotent-replayed'], 'true', 'Idempotent-Replayed header');
  eq(first.lastResponse.headers['idempotent-replayed'], undefined, 'first answer is not a replay');
  const listed = await stripe.customers.list({ email: 'idem-node@example.com' });
  eq(listed.data.filter((c) => c.id === first.id).length, 1, 'created once');
  const error = await raises(Stripe.errors.StripeIdempotencyError, () =>
    stripe.customers.create({ email: 'other@example.com' }, { idempotencyKey }),
  );
  eq([error.statusCode, error.type], [400, 'StripeIdempotencyError'], 'idempotency_error');
  eq(error.raw.type, 'idempotency_error', 'error.type on the wire');
});

flow('error_classes', async ({ stripe, other }) => {
  const unknown = await raises(Stripe.errors.StripeInvalidRequestError, () => stripe.customers.create({ emial: 'typo@example.com' }));
  eq([unknown.statusCode, unknown.code, unknown.param], [400, 'parameter_unknown', 'emial'], 'unknown param');
  const missing = await raises(Stripe.errors.StripeInvalidRequestError, () => stripe.prices.create({ unit_amount: 100, currency: 'usd' }));
  eq([missing.statusCode, missing.param], [400, 'product'], 'missing param is named');
  const wrongType = await raises(Stripe.errors.StripeInvalidRequestError, () =>
    stripe.prices.create({ product_data: { name: 'x' }, unit_amount: 'lots', currency: 'usd' }),
  );
  eq([wrongType.statusCode, wrongType.param], [400, 'unit_amount'], 'wrong type names the param');
  const absent = await raises(Stripe.errors.StripeInvalidRequestError, () => stripe.customers.retrieve('cus_doesnotexist'));
  eq([absent.statusCode, absent.code], [404, 'resource_missing'], 'unknown id');

  const declined = await raises(Stripe.errors.StripeCardError, () =>
    stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true }),
  );
  eq([declined.statusCode, declined.code, declined.decline_code], [402, 'card_declined', 'generic_decline'], 'StripeCardError');
  const funds = await raises(Stripe.errors.StripeCardError, () =>
    stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: 'pm_card_chargeDeclinedInsufficientFunds', confirm: true }),
  );
  eq(funds.decline_code, 'insufficient_funds', 'insufficient funds decline_code');

  for (const badKey of ['sk_test_', 'not_a_key', 'sk_live_' + 'x'.repeat(24)]) {
    const error = await raises(Stripe.errors.StripeAuthenticationError, () => other(badKey).customers.list());
    eq(error.statusCode, 401, `bad key ${badKey.slice(0, 8)}…`);
  }
  check(KEY.startsWith('sk_test_'), "the suite's own key is a test key");
});
