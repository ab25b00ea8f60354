// Flows over payments: expand, refunds, and Checkout in payment mode through
// the hosted page (paid with 4242, declined, expired).

import { browser, check, eq, flow } from './harness.mjs';

const CARD_OK = '4242 4242 4242 4242';
const CARD_DECLINED = '4000 0000 0000 0002';

/** Opens the session's hosted page and submits the card form as a browser
 * would; returns { page, res, body }. */
export async function payOnPage(session, card, email = 'buyer@example.com') {
  const page = await browser.open(session.url);
  const form = page.form('card_number');
  const res = await browser.submit(page, form, { email, name: 'Ada Buyer', card_number: card, exp: '12 / 34', cvc: '123' });
  return { page, res, body: await res.text() };
}

const oneTimePrice = (stripe, runId, amount = 2500) =>
  stripe.prices.create({ unit_amount: amount, currency: 'usd', product_data: { name: `Ebook ${runId}` } });

flow('expand', async ({ stripe }) => {
  const product = await stripe.products.create({ name: 'Expandable' });
  const price = await stripe.prices.create({ product: product.id, unit_amount: 700, currency: 'eur', expand: ['product'] });
  eq([price.product.object, price.product.id], ['product', product.id], 'expand on create');
  eq((await stripe.prices.retrieve(price.id)).product, product.id, 'unexpanded is an id');
  eq((await stripe.prices.retrieve(price.id, { expand: ['product'] })).product.name, 'Expandable', 'expand on retrieve');
  const listed = await stripe.prices.list({ product: product.id, expand: ['data.product'] });
  eq(listed.data.map((p) => p.product.id), [product.id], 'expand data.* on lists');

  const customer = await stripe.customers.create({ email: 'expand@example.com' });
  const pi = await stripe.paymentIntents.create({
    amount: 1200,
    currency: 'usd',
    customer: customer.id,
    payment_method: 'pm_card_visa',
    confirm: true,
    expand: ['latest_charge', 'customer'],
  });
  eq([pi.status, pi.latest_charge.object, pi.customer.email], ['succeeded', 'charge', 'expand@example.com'], 'expand on confirm');
  const charge = await stripe.charges.retrieve(pi.latest_charge.id, { expand: ['payment_intent.customer'] });
  eq(charge.payment_intent.customer.id, customer.id, 'nested expand (two levels)');
});

flow(
  'refund',
  async ({ stripe, expectEvents }) => {
    const customer = await stripe.customers.create({ email: 'refund@example.com' });
    const pm = await stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    eq(pm.customer, customer.id, 'attached');
    const pi = await stripe.paymentIntents.create({ amount: 3000, currency: 'usd', customer: customer.id, payment_method: pm.id, confirm: true });
    eq(pi.status, 'succeeded', 'payment intent');
    const partial = await stripe.refunds.create({ payment_intent: pi.id, amount: 1000, reason: 'requested_by_customer' });
    eq([partial.status, partial.amount, partial.payment_intent, partial.charge], ['succeeded', 1000, pi.id, pi.latest_charge], 'partial refund');
    let charge = await stripe.charges.retrieve(pi.latest_charge);
    eq([charge.amount_refunded, charge.refunded], [1000, false], 'charge after partial refund');
    const rest = await stripe.refunds.create({ charge: charge.id });
    eq(rest.amount, 2000, 'refund of the rest');
    charge = await stripe.charges.retrieve(charge.id);
    eq([charge.amount_refunded, charge.refunded], [3000, true], 'charge fully refunded');
    const listed = await stripe.refunds.list({ payment_intent: pi.id });
    eq(listed.data.map((r) => r.id).sort(), [partial.id, rest.id].sort(), 'refunds.list(payment_intent)');
    await expectEvents(['payment_method.attached'], pm.id);
    await expectEvents(['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded'], pi.id);
    await expectEvents(['refund.created'], rest.id);
    await expectEvents(['charge.refunded'], charge.id);
  },
  { needsHooks: true },
);

flow(
  'checkout_payment_hosted_page_4242',
  async ({ stripe, runId, base, hooks, expectEvents }) => {
    const price = await oneTimePrice(stripe, runId);
    const session = await stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price: price.id, quantity: 2 }],
      success_url: `${hooks.origin}/ok?session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: 'https://shop.example/cancel',
      client_reference_id: `order-${runId}`,
      metadata: { order: '77' },
    });
    check(session.id.startsWith('cs_test_'), 'session id', session);
    eq([session.status, session.payment_status, session.amount_total, session.mode], ['open', 'unpaid', 5000, 'payment'], 'open session');
    check(session.url?.startsWith(base), 'hosted url on the sim', session.url);
    const items = await stripe.checkout.sessions.listLineItems(session.id);
    eq(items.data.map((i) => [i.price.id, i.quantity, i.amount_total]), [[price.id, 2, 5000]], 'line items');

    const { page, res } = await payOnPage(session, CARD_OK);
    check(page.text.includes('$50.00'), 'the page shows the total', page.text.slice(0, 500));
    check(page.html.includes('href="https://shop.example/cancel"'), 'the page links back to cancel_url', page.html.slice(0, 1500));
    eq(res.status, 303, 'a successful payment redirects');
    const location = new URL(res.headers.get('location'));
    eq(location.searchParams.get('session_id'), session.id, 'success_url with {CHECKOUT_SESSION_ID} replaced');
    eq(location.origin + location.pathname, `${hooks.origin}/ok`, 'redirect to success_url');
    const landed = await browser.follow(res, session.url);
    eq(landed.status, 200, 'the browser lands on success_url');
    check(hooks.visits.includes(`/ok?session_id=${session.id}`), 'the shop saw the session id', hooks.visits.slice(-3));

    const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
    eq([done.status, done.payment_status, done.client_reference_id], ['complete', 'paid', `order-${runId}`], 'completed');
    eq([done.payment_intent.status, done.payment_intent.amount], ['succeeded', 5000], 'payment intent');
    eq(done.customer_details.email, 'buyer@example.com', 'customer_details');
    await expectEvents(['checkout.session.completed'], session.id);
    await expectEvents(['payment_intent.succeeded', 'charge.succeeded'], done.payment_intent.id);
    const again = await browser.get(session.url);
    check(again.status !== 303, "a completed session's page does not take payment again", again.status);
  },
  { needsHooks: true },
);

flow('checkout_payment_declined_card', async ({ stripe, runId }) => {
  const price = await oneTimePrice(stripe, runId, 900);
  const session = await stripe.checkout.sessions.create({ mode: 'payment', line_items: [{ price: price.id, quantity: 1 }], success_url: 'https://shop.example/ok' });
  const { res, body } = await payOnPage(session, CARD_DECLINED);
  check(![301, 302, 303, 307, 308].includes(res.status), 'a decline does not redirect', res.status, res.headers.get('location'));
  check(body.toLowerCase().includes('declined'), 'the page shows the decline', body.slice(0, 1500));
  eq((await stripe.checkout.sessions.retrieve(session.id)).status, 'open', 'the session stays open');
  const retry = await payOnPage(session, CARD_OK);
  eq(retry.res.status, 303, 'paying again with 4242 succeeds');
  eq((await stripe.checkout.sessions.retrieve(session.id)).payment_status, 'paid', 'paid after the retry');
});

flow(
  'checkout_expire',
  async ({ stripe, runId, expectEvents }) => {
    const price = await oneTimePrice(stripe, runId, 1100);
    const session = await stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price: price.id, quantity: 1 }],
      success_url: 'https://shop.example/ok',
      customer_email: 'late@example.com',
    });
    eq(session.customer_email, 'late@example.com', 'customer_email');
    const expired = await stripe.checkout.sessions.expire(session.id);
    eq([expired.status, expired.url], ['expired', null], 'expired session has no url');
    const listed = await stripe.checkout.sessions.list({ status: 'expired', limit: 100 });
    check(listed.data.some((s) => s.id === session.id), 'listed with status=expired');
    await expectEvents(['checkout.session.expired'], session.id);
  },
  { needsHooks: true },
);

flow(
  'checkout_payment_dispute_card',
  async ({ stripe, runId, expectEvents }) => {
    const price = await oneTimePrice(stripe, runId, 1900);
    const session = await stripe.checkout.sessions.create({ mode: 'payment', line_items: [{ price: price.id, quantity: 1 }], success_url: 'https://shop.example/ok' });
    const { res } = await payOnPage(session, '4000 0000 0000 0259');
    eq(res.status, 303, 'the 0259 card pays');
    const pi = await stripe.paymentIntents.retrieve((await stripe.checkout.sessions.retrieve(session.id)).payment_intent);
    eq(pi.status, 'succeeded', 'the payment succeeds');
    const opened = (await expectEvents(['charge.dispute.created'], pi.latest_charge))['charge.dispute.created'];
    const dispute = await stripe.disputes.retrieve(opened.data.object.id);
    eq([dispute.charge, dispute.reason, dispute.amount], [pi.latest_charge, 'fraudulent', 1900], 'the dispute');
  },
  { needsHooks: true },
);
