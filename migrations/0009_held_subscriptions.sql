-- A signup at a disposable mail domain under Signup__DisposableDomains=Hold is stored as 'held':
-- its consent evidence and ledger event like any signup, but no mail. Every query that acts on
-- pending subscriptions (confirmation mail, reminders, confirming a link, resend throttle, webhook
-- subscription.created) names 'pending', so it leaves held ones alone without a change of its own.
-- A later signup of the address makes it pending again unless it is still held then.
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_status_check;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_status_check
    CHECK (status IN ('pending', 'confirmed', 'unsubscribed', 'held'));
