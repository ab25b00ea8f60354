// Flows over billing: Checkout in subscription mode, subscription changes
// (plan switch, cancel at period end, pause_collection and resume, cancel),
// test clock renewals that succeed and fail, and the billing portal.

import { browser, check, eq, flow, waitUntil } from './harness.mjs';
import { payOnPage } from './flows_payments.mjs';

async function plans(stripe, runId) {
  const product = await stripe.products.create({ name: `Team ${runId}` });
  const basic = await stripe.prices.create({ product: product.id, unit_amount: 1000, currency: 'usd', recurring: { interval: 'month' } });
  const pro = await stripe.prices.create({ product: product.id, unit_amount: 2500, currency: 'usd', recurring: { interval: 'month' } });
  return { basic, pro };
}

async function payingCustomer(stripe, runId, card = 'pm_card_visa', extra = {}) {
  const customer = await stripe.customers.create({ email: `payer-${runId}@example.com`, ...extra });
  const pm = await stripe.paymentMethods.attach(card, { customer: customer.id });
  await stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: pm.id } });
  return { customer, pm };
}

const periodEnd = (sub) => sub.items.data[0].current_period_end;

flow(
  'checkout_subscription_hosted_page_4242',
  async ({ stripe, runId, hooks, expectEvents }) => {
    const { basic } = await plans(stripe, runId);
    const email = `new-${runId}@example.com`;
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ price: basic.id, quantity: 1 }],
      customer_email: email,
      success_url: `${hooks.origin}/billing/ok?session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: 'https://app.example/billing/cancel',
      client_reference_id: 'team_77',
      subscription_data: { metadata: { team: '77' } },
    });
    eq([session.mode, session.status, session.amount_total], ['subscription', 'open', 1000], 'open subscription session');
    const { page, res } = await payOnPage(session, '4242 4242 4242 4242', email);
    check(page.html.includes('Subscribe'), "the subscription page's button", page.text.slice(0, 400));
    eq(res.status, 303, 'a successful subscription redirects');
    eq(res.headers.get('location'), `${hooks.origin}/billing/ok?session_id=${session.id}`, 'redirect to success_url with the id');
    eq((await browser.follow(res, session.url)).status, 200, 'the browser lands on success_url');
    check(hooks.visits.includes(`/billing/ok?session_id=${session.id}`), 'the shop saw the session id', hooks.visits.slice(-3));

    const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['subscription'] });
    eq([done.status, done.payment_status], ['complete', 'paid'], 'session completed');
    const sub = done.subscription;
    eq([sub.status, sub.customer, sub.items.data[0].price.id], ['active', done.customer, basic.id], 'subscription');
    eq(sub.metadata, { team: '77' }, 'subscription_data.metadata');
    const invoice = await stripe.invoices.retrieve(sub.latest_invoice);
    eq([invoice.status, invoice.amount_paid, invoice.billing_reason], ['paid', 1000, 'subscription_create'], 'first invoice');
    await expectEvents(['customer.created'], done.customer);
    await expectEvents(['customer.subscription.created', 'invoice.created', 'invoice.finalized', 'invoice.paid', 'invoice.payment_succeeded'], sub.id);
    await expectEvents(['checkout.session.completed'], session.id);
  },
  { needsHooks: true },
);

flow(
  'subscription_update_cancel_pause_resume',
  async ({ stripe, runId, expectEvents, hooks }) => {
    const { basic, pro } = await plans(stripe, runId);
    const { customer } = await payingCustomer(stripe, runId);
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: basic.id }], expand: ['latest_invoice'] });
    eq([sub.status, sub.latest_invoice.status, sub.latest_invoice.amount_paid], ['active', 'paid', 1000], 'created and paid');
    const item = sub.items.data[0];

    const switched = await stripe.subscriptions.update(sub.id, { items: [{ id: item.id, price: pro.id }], proration_behavior: 'create_prorations' });
    eq(switched.items.data.map((i) => i.price.id), [pro.id], 'plan switched in place');
    eq(switched.items.data[0].id, item.id, 'the item keeps its id');

    const ending = await stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
    eq([ending.status, ending.cancel_at_period_end, ending.cancel_at], ['active', true, periodEnd(ending)], 'cancel at period end');
    const kept = await stripe.subscriptions.update(sub.id, { cancel_at_period_end: false });
    eq([kept.cancel_at_period_end, kept.cancel_at], [false, null], 'cancellation undone');

    const paused = await stripe.subscriptions.update(sub.id, { pause_collection: { behavior: 'void' } });
    eq([paused.status, paused.pause_collection.behavior], ['active', 'void'], 'pause_collection');
    const resumed = await stripe.subscriptions.update(sub.id, { pause_collection: '' });
    eq(resumed.pause_collection, null, 'resumed: pause_collection unset');

    const canceled = await stripe.subscriptions.cancel(sub.id);
    eq(canceled.status, 'canceled', 'canceled now');
    check(canceled.ended_at !== null, 'ended_at set', canceled);
    const all = await stripe.subscriptions.list({ customer: customer.id, status: 'all' });
    eq(all.data.map((s) => [s.id, s.status]), [[sub.id, 'canceled']], 'status=all lists it');

    await expectEvents(['customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted'], sub.id);
    // Deliveries may arrive in any order: wait for each change's own update.
    for (const field of ['items', 'cancel_at_period_end', 'pause_collection']) {
      await hooks.waitFor(['customer.subscription.updated'], (raw) => raw.data.object.id === sub.id && field in (raw.data.previous_attributes ?? {}));
    }
  },
  { needsHooks: true },
);

async function clockCustomer(stripe, runId, card) {
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000), name: `renewal ${runId}` });
  eq([clock.status, clock.object], ['ready', 'test_helpers.test_clock'], 'new clock');
  const { customer, pm } = await payingCustomer(stripe, runId, card, { test_clock: clock.id });
  eq((await stripe.customers.retrieve(customer.id)).test_clock, clock.id, 'customer on the clock');
  return { clock, customer, pm };
}

async function advance(stripe, clock, to) {
  const moving = await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: to });
  check(['advancing', 'ready'].includes(moving.status), 'advance answers', moving);
  const ready = await waitUntil(
    'the clock to be ready',
    async () => {
      const k = await stripe.testHelpers.testClocks.retrieve(clock.id);
      return k.status === 'ready' ? k : null;
    },
    60000,
  );
  eq(ready.frozen_time, to, 'frozen_time');
}

flow(
  'test_clock_renewal_succeeds',
  async ({ stripe, runId, expectEvents }) => {
    const { basic } = await plans(stripe, runId);
    const { clock, customer } = await clockCustomer(stripe, runId, 'pm_card_visa');
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: basic.id }] });
    const firstEnd = periodEnd(sub);
    await advance(stripe, clock, firstEnd + 3600);
    const renewed = await stripe.subscriptions.retrieve(sub.id);
    eq(renewed.status, 'active', 'still active');
    check(periodEnd(renewed) > firstEnd, 'a new period', periodEnd(renewed), firstEnd);
    const invoices = (await stripe.invoices.list({ subscription: sub.id })).data;
    eq(invoices.map((i) => [i.billing_reason, i.status]), [['subscription_cycle', 'paid'], ['subscription_create', 'paid']], 'renewal invoice paid');
    await expectEvents(['test_helpers.test_clock.advancing', 'test_helpers.test_clock.ready'], clock.id);
    await expectEvents(['invoice.created', 'invoice.finalized', 'invoice.paid', 'invoice.payment_succeeded'], invoices[0].id);
    await expectEvents(['customer.subscription.updated'], sub.id);
  },
  { needsHooks: true },
);

flow(
  'test_clock_renewal_fails',
  async ({ stripe, runId, expectEvents, hooks }) => {
    const { basic } = await plans(stripe, runId);
    const { clock, customer } = await clockCustomer(stripe, runId, 'pm_card_visa');
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: basic.id }] });
    const failing = await stripe.paymentMethods.attach('pm_card_chargeCustomerFail', { customer: customer.id });
    eq(failing.customer, customer.id, '0341 attaches');
    await stripe.subscriptions.update(sub.id, { default_payment_method: failing.id });
    await advance(stripe, clock, periodEnd(sub) + 3600);
    eq((await stripe.subscriptions.retrieve(sub.id)).status, 'past_due', 'renewal failed: past_due');
    const [invoice] = (await stripe.invoices.list({ subscription: sub.id, limit: 1 })).data;
    eq([invoice.billing_reason, invoice.status, invoice.attempt_count], ['subscription_cycle', 'open', 1], 'open renewal invoice');
    check(invoice.next_payment_attempt !== null, 'a retry is scheduled', invoice);
    const events = await expectEvents(['invoice.payment_failed'], invoice.id);
    eq(events['invoice.payment_failed'].data.object.attempt_count, 1, 'payment_failed attempt_count');
    await hooks.waitFor(
      ['customer.subscription.updated'],
      (raw) => raw.data.object.id === sub.id && raw.data.object.status === 'past_due' && raw.data.previous_attributes?.status === 'active',
    );

    // The customer fixes the card and the invoice is paid: active again (§5.6).
    await stripe.subscriptions.update(sub.id, { default_payment_method: 'pm_card_visa' });
    const paid = await stripe.invoices.pay(invoice.id);
    eq([paid.status, paid.amount_paid], ['paid', 1000], 'invoices.pay with a good card');
    eq((await stripe.subscriptions.retrieve(sub.id)).status, 'active', 'active again after paying');
    await expectEvents(['invoice.paid'], invoice.id);
  },
  { needsHooks: true },
);

flow(
  'billing_portal_session',
  async ({ stripe, runId, base, hooks, expectEvents }) => {
    const { basic, pro } = await plans(stripe, runId);
    const { customer } = await payingCustomer(stripe, runId);
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: basic.id }] });
    const session = await stripe.billingPortal.sessions.create({ customer: customer.id, return_url: 'https://app.example/account' });
    check(session.id.startsWith('bps_'), 'portal session id', session);
    eq([session.customer, session.return_url, session.livemode], [customer.id, 'https://app.example/account', false], 'portal session');
    check(session.url.startsWith(base), 'portal url on the sim', session.url);

    let page = await browser.open(session.url);
    check(page.html.includes(sub.id), 'the portal lists the subscription', page.text.slice(0, 500));
    let res = await browser.submit(page, page.formTo('/cancel', { subscription: sub.id }), {});
    eq(res.status, 303, 'cancel redirects back to the portal');
    eq((await stripe.subscriptions.retrieve(sub.id)).cancel_at_period_end, true, 'canceled at period end from the portal');

    page = await browser.open(session.url);
    res = await browser.submit(page, page.formTo('/resume', { subscription: sub.id }), {});
    eq(res.status, 303, 'renew redirects back');
    eq((await stripe.subscriptions.retrieve(sub.id)).cancel_at_period_end, false, 'renewed from the portal');

    page = await browser.open(session.url);
    res = await browser.submit(page, page.formTo('/switch', { subscription: sub.id }), { price: pro.id });
    eq(res.status, 303, 'switch redirects back');
    eq((await stripe.subscriptions.retrieve(sub.id)).items.data[0].price.id, pro.id, 'plan switched from the portal');

    page = await browser.open(session.url);
    const before = (await stripe.customers.retrieve(customer.id)).invoice_settings.default_payment_method;
    res = await browser.submit(page, page.formTo('/card'), { number: '5555 5555 5555 4444' });
    eq(res.status, 303, 'card change redirects back');
    const after = (await stripe.customers.retrieve(customer.id)).invoice_settings.default_payment_method;
    check(after && after !== before, 'a new default payment method', before, after);
    eq((await stripe.paymentMethods.retrieve(after)).card.last4, '4444', 'the new card');

    const portalCancel = (raw) => raw.data.object.id === sub.id && raw.data.previous_attributes?.cancel_at_period_end === false;
    const canceled = (await hooks.waitFor(['customer.subscription.updated'], portalCancel))['customer.subscription.updated'];
    eq(canceled.request.id, null, 'portal changes have no request id');
    await expectEvents(['payment_method.attached'], after);
    await expectEvents(['customer.updated'], customer.id);
  },
  { needsHooks: true },
);

flow('older_stripe_version_shapes', async ({ stripe, runId }) => {
  const { basic } = await plans(stripe, runId);
  const { customer } = await payingCustomer(stripe, runId);
  const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: basic.id }] });
  check(!('current_period_end' in sub), 'endive: no period on the subscription', sub);
  const oldSub = await stripe.subscriptions.retrieve(sub.id, {}, { apiVersion: '2024-06-20' });
  eq(oldSub.lastResponse.apiVersion, '2024-06-20', 'answered at the pinned version');
  eq(oldSub.current_period_end, periodEnd(sub), '2024-06-20: current_period_end on the subscription');
  const oldInvoice = await stripe.invoices.retrieve(sub.latest_invoice, {}, { apiVersion: '2024-06-20' });
  eq([oldInvoice.subscription, oldInvoice.paid], [sub.id, true], '2024-06-20: invoice.subscription and paid');
  const newInvoice = await stripe.invoices.retrieve(sub.latest_invoice);
  eq(newInvoice.parent.subscription_details.subscription, sub.id, 'endive: invoice parent');
  check(!('paid' in newInvoice), 'endive: no invoice.paid', newInvoice);
});

flow(
  'test_clock_trial_ends',
  async ({ stripe, runId, expectEvents }) => {
    const DAY = 86400;
    const { basic } = await plans(stripe, runId);
    const { clock, customer } = await clockCustomer(stripe, runId, 'pm_card_visa');
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: basic.id }], trial_period_days: 7 });
    eq([sub.status, sub.trial_end - sub.trial_start], ['trialing', 7 * DAY], 'a 7-day trial');
    eq((await stripe.invoices.retrieve(sub.latest_invoice)).amount_due, 0, "the trial's invoice is for 0");
    await advance(stripe, clock, clock.frozen_time + 5 * DAY);
    await expectEvents(['customer.subscription.trial_will_end'], sub.id);
    eq((await stripe.subscriptions.retrieve(sub.id)).status, 'trialing', 'still trialing 2 days before the end');
    await advance(stripe, clock, sub.trial_end + 3600);
    eq((await stripe.subscriptions.retrieve(sub.id)).status, 'active', 'active after the trial');
    const [firstPaid] = (await stripe.invoices.list({ subscription: sub.id, limit: 1 })).data;
    eq([firstPaid.status, firstPaid.amount_paid], ['paid', 1000], 'the first charge after the trial');
    await expectEvents(['invoice.paid'], firstPaid.id);
  },
  { needsHooks: true },
);
