-- Imports (POST /api/admin/import) leave an 'imported' ledger row per subscription they create or
-- change, with the file's evidence. The list below is every type allowed before (0008, 0011), plus
-- 'imported'.
ALTER TABLE subscription_events DROP CONSTRAINT subscription_events_type_check;
ALTER TABLE subscription_events ADD CONSTRAINT subscription_events_type_check CHECK (type IN
    ('signup', 'confirmation_sent', 'reminder_sent', 'welcome_sent', 'confirmed', 'unsubscribed', 'erased', 'purged',
     'suppressed', 'suppression_lifted', 'requeued', 'resend_requested', 'locale_changed', 'imported'));
