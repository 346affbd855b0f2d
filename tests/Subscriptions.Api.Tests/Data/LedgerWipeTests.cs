using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Subscriptions.Api.Data;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Data;

/// <summary>
/// Erasure and retention share one definition of the ledger's personal data (wipe_personal_ledger,
/// migration 0011): a personal column added later is wiped by both without either being edited.
/// On a database of its own, since it changes the schema.
/// </summary>
public sealed class LedgerWipeTests(ApiFixture fixture) : OwnDatabaseTest(fixture)
{
    [Fact]
    public async Task A_personal_column_added_to_the_ledger_is_wiped_by_erasure_and_by_retention_alike()
    {
        await using var app = StartApp();
        await Execute("""
            ALTER TABLE subscription_events ADD COLUMN phone text;
            COMMENT ON COLUMN subscription_events.phone IS 'personal';
            INSERT INTO subscribers (email, email_as_typed, created_at, updated_at) VALUES
                ('erase@example.org', 'erase@example.org', now(), now()),
                ('stale@example.org', 'stale@example.org', now(), now()),
                ('keep@example.org', 'keep@example.org', now(), now());
            INSERT INTO subscriptions (subscriber_id, list_id, status, created_at, updated_at, confirmed_at, consent_at, consent_ip, consent_text_version)
            SELECT s.id, (SELECT id FROM lists WHERE slug = 'news'), v.status, now(), now(), CASE WHEN v.status = 'confirmed' THEN now() END,
                   now() - v.age, '198.51.100.7', '1'
            FROM (VALUES ('erase@example.org', 'confirmed', interval '1 day'),
                         ('stale@example.org', 'pending', interval '1 day'),
                         ('keep@example.org', 'confirmed', interval '1 day')) AS v(email, status, age)
            JOIN subscribers s ON s.email = v.email;
            INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at, ip, user_agent, source, phone)
            SELECT sub.id, sub.list_id, 'signup', sub.consent_at, '198.51.100.7', 'Agent/1.0', 'https://news.example/' || s.email, '+49 30 ' || s.email
            FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id;
            """);
        const string stillPersonal = """
            SELECT count(*) FROM subscription_events
            WHERE ip IS NOT NULL OR user_agent IS NOT NULL OR source IS NOT NULL OR phone IS NOT NULL
            """;
        Assert.Equal(3, await Scalar<long>(stillPersonal));

        using var admin = app.CreateHttpClient();
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiFixture.AdminKey);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/admin/subscribers/erase%40example.org")).StatusCode);
        Assert.Equal(2, await Scalar<long>(stillPersonal));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE phone LIKE '%erase%' OR source LIKE '%erase%'"));

        // Stale only now: the service's own retention pass, which runs once as it starts (at a moment
        // the test does not control: on a busy machine it came after the rows above and took the
        // stale one before the erasure was counted), has nothing to take until here. Whichever pass
        // takes it, the one below or a late start-up one, the state that follows is the same. The
        // start-up pass may hold the retention lock right now (then ours gets null): ours runs once
        // that one has let go, so that the stale signup is taken by a pass that began after it went stale.
        await Execute("""
            UPDATE subscriptions SET consent_at = now() - interval '40 days'
            WHERE subscriber_id = (SELECT id FROM subscribers WHERE email = 'stale@example.org');
            """);
        var retention = app.Services.GetRequiredService<RetentionJob>();
        while (await retention.PurgeAsync(CancellationToken.None) is null)
        {
            await Task.Delay(50);
        }

        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscriptions WHERE status = 'pending'"));
        // what is left personal is the one subscriber neither path was about
        Assert.Equal(1, await Scalar<long>(stillPersonal));
        Assert.Equal(1, await Scalar<long>("""
            SELECT count(*) FROM subscription_events e JOIN subscriptions sub ON sub.id = e.subscription_id
            JOIN subscribers s ON s.id = sub.subscriber_id WHERE s.email = 'keep@example.org' AND e.phone IS NOT NULL AND e.ip IS NOT NULL
            """));
        Assert.Equal(2, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type IN ('erased', 'purged')"));
        app.AssertNoErrorsLogged();
    }
}
