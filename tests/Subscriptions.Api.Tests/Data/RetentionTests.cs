using Microsoft.Extensions.DependencyInjection;
using Subscriptions.Api.Data;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Data;

public class RetentionTests(ApiFixture fixture) : ApiTest(fixture)
{
    [Fact]
    public async Task Retention_removes_stale_signups_old_mail_and_dead_tokens_and_nothing_else()
    {
        await Execute("""
            INSERT INTO lists (slug, name, consent_text, consent_text_version) VALUES ('sport', 'Sport', 'ok', '1');
            INSERT INTO subscribers (email, email_as_typed, name, created_at, updated_at) VALUES
                ('stale@example.org', 'stale@example.org', 'Stale Person', now() - interval '40 days', now() - interval '40 days'),
                ('fresh@example.org', 'fresh@example.org', null, now(), now()),
                ('loyal@example.org', 'loyal@example.org', null, now() - interval '400 days', now()),
                ('mixed@example.org', 'mixed@example.org', null, now() - interval '40 days', now());
            INSERT INTO subscriptions (subscriber_id, list_id, status, created_at, updated_at, confirmed_at, consent_at, consent_ip, consent_user_agent, consent_source, consent_text_version)
            SELECT s.id, l.id, v.status, now(), now(), CASE WHEN v.status = 'confirmed' THEN now() END,
                   now() - v.age, '198.51.100.23', 'StaleAgent/1.0', 'https://news.example/stale', '1'
            FROM (VALUES ('stale@example.org', 'news', 'pending', interval '31 days'),
                         ('fresh@example.org', 'news', 'pending', interval '29 days'),
                         ('loyal@example.org', 'news', 'confirmed', interval '400 days'),
                         ('mixed@example.org', 'news', 'pending', interval '35 days'),
                         ('mixed@example.org', 'sport', 'confirmed', interval '35 days')) AS v(email, list, status, age)
            JOIN subscribers s ON s.email = v.email JOIN lists l ON l.slug = v.list;
            INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at, ip, user_agent, source)
            SELECT id, list_id, 'signup', consent_at, consent_ip, consent_user_agent, consent_source FROM subscriptions;
            INSERT INTO outbox (subscription_id, kind, created_at, due_at, sent_at)
            SELECT id, 'confirmation', now() - interval '10 days', now() - interval '10 days', now() - interval '10 days' FROM subscriptions WHERE status = 'confirmed';
            INSERT INTO outbox (subscription_id, kind, created_at, due_at, sent_at)
            SELECT id, 'confirmation', now() - interval '1 day', now() - interval '1 day', now() - interval '1 day' FROM subscriptions WHERE status = 'pending';
            INSERT INTO tokens (hash, subscription_id, purpose, created_at, expires_at)
            SELECT sha256(id::text::bytea), id, 'confirm', now() - interval '20 days', now() - interval '13 days' FROM subscriptions WHERE status = 'confirmed';
            INSERT INTO tokens (hash, subscription_id, purpose, created_at, expires_at)
            SELECT sha256(('fresh' || id)::text::bytea), id, 'confirm', now(), now() + interval '7 days' FROM subscriptions WHERE status = 'pending';
            """);

        var purged = await Fixture.App.Services.GetRequiredService<RetentionJob>().PurgeAsync(CancellationToken.None);

        Assert.Equal(new RetentionJob.Purged(Subscriptions: 2, Subscribers: 1, Mail: 2, Tokens: 2), purged);
        Assert.Equal(["fresh@example.org", "loyal@example.org", "mixed@example.org"],
            (await Query("SELECT email FROM subscribers ORDER BY email")));
        Assert.Equal(["confirmed", "confirmed", "pending"], await Query("SELECT status FROM subscriptions ORDER BY status"));
        Assert.Equal(2, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'purged' AND subscription_id IS NULL"));
        // what the ledger keeps of purged signups holds nothing personal
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE subscription_id IS NULL AND (ip IS NOT NULL OR user_agent IS NOT NULL OR source IS NOT NULL)"));
        Assert.Equal(3, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE ip IS NOT NULL"));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscribers WHERE name IS NOT NULL"));
    }

    [Fact]
    public async Task Retention_forgets_bounce_reports_older_than_the_soft_bounce_window_and_keeps_suppressions()
    {
        await Execute("""
            INSERT INTO bounce_events (provider, event_id, email, kind, occurred_at, received_at) VALUES
                ('postmark', 'old', 'old@example.org', 'soft_bounce', now() - interval '9 days', now() - interval '8 days'),
                ('postmark', 'recent', 'recent@example.org', 'soft_bounce', now() - interval '6 days', now() - interval '6 days');
            INSERT INTO suppressions (email, reason, source, suppressed_at) VALUES ('old@example.org', 'hard_bounce', 'postmark', now() - interval '400 days');
            """);

        await Fixture.App.Services.GetRequiredService<RetentionJob>().PurgeAsync(CancellationToken.None);

        Assert.Equal(["recent"], await Query("SELECT event_id FROM bounce_events"));
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM suppressions"));
    }

    [Fact]
    public async Task An_instance_skips_the_purge_while_another_one_runs_it()
    {
        var job = Fixture.App.Services.GetRequiredService<RetentionJob>();
        await using var otherInstance = await Database.OpenConnectionAsync();
        await using var transaction = await otherInstance.BeginTransactionAsync();
        await Dapper.SqlMapper.ExecuteAsync(otherInstance, "SELECT pg_advisory_xact_lock(@key)", new { key = 0x5355_4253_5245_544EL }, transaction);

        Assert.Null(await job.PurgeAsync(CancellationToken.None));

        await transaction.CommitAsync();
        Assert.NotNull(await job.PurgeAsync(CancellationToken.None));
    }

    async Task<List<string>> Query(string sql)
    {
        await using var connection = await Database.OpenConnectionAsync();
        return [.. await Dapper.SqlMapper.QueryAsync<string>(connection, sql)];
    }
}
