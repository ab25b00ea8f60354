-- Which PaymentIntent paid which invoice, from whichever event says so.
-- Payments stay insert-only; reads count a PaymentIntent's payment only
-- when no invoice claims that PaymentIntent (see reads.rs).
CREATE TABLE invoice_payment_links (
    payment_intent_id TEXT PRIMARY KEY,
    invoice_id        TEXT NOT NULL
);
CREATE INDEX payments_by_payment_intent ON payments (payment_intent_id);
