using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Subscriptions.Api.Data;
using Subscriptions.Api.Outbox;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Outbox;

/// <summary>
/// The webhook claim as PostgreSQL plans it when its statistics know no webhook rows: the outbox
/// was analyzed while it held only mail, then a burst of events arrived (the first webhooks of a
/// publisher, or the harness's webhook scenario after its mail rounds). The claim's "oldest
/// waiting event of this subscriber" look then took the waiting-mail index and read every waiting
/// event for each row it claimed (10,000 events drained in 13 s instead of 3-4). The look now
/// says "waiting" in the queue index's own words (migration 0019), which that index cannot prove.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class ClaimPlanTests(ApiFixture fixture)
{
    const int Rows = 2_000;
    const int BatchSize = 50;

    [Fact]
    public async Task A_webhook_claim_after_mail_only_statistics_reads_about_what_it_claims()
    {
        var connectionString = await fixture.Postgres.CreateDatabaseAsync();
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(CancellationToken.None);
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            WITH s AS (
                INSERT INTO subscribers (email, email_as_typed, created_at, updated_at)
                SELECT 'd' || i || '@example.org', 'd' || i || '@example.org', now(), now() FROM generate_series(1, @Rows) AS i
                RETURNING id),
            sub AS (
                INSERT INTO subscriptions (subscriber_id, list_id, status, created_at, updated_at, consent_at, consent_text_version)
                SELECT id, 1, 'pending', now(), now(), now(), '1' FROM s RETURNING id)
            INSERT INTO outbox (subscription_id, kind, created_at, due_at, sent_at) SELECT id, 'confirmation', now(), now(), now() FROM sub
            """, new { Rows });
        await connection.ExecuteAsync("ANALYZE outbox");
        await connection.ExecuteAsync("""
            TRUNCATE subscribers, subscriptions, subscription_events, outbox CASCADE;
            INSERT INTO webhook_endpoints (url, secret, events, created_at)
            VALUES ('https://hooks.example/in', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', '{subscription.created}', now());
            INSERT INTO outbox (kind, webhook_endpoint_id, ordering_key, payload, created_at, due_at)
            SELECT 'webhook', (SELECT id FROM webhook_endpoints), i, '{}', now(), now() FROM generate_series(1, @Rows) AS i;
            """, new { Rows });

        await using var transaction = await connection.BeginTransactionAsync();
        var now = DateTimeOffset.UtcNow;
        var plan = await connection.ExecuteScalarAsync<string>("EXPLAIN (ANALYZE, FORMAT JSON) " + OutboxSql.ClaimWebhooks,
            new { claim = Guid.NewGuid(), now, leaseUntil = now.AddMinutes(2), batchSize = BatchSize }, transaction);
        await transaction.RollbackAsync();

        var root = JsonDocument.Parse(plan!).RootElement[0].GetProperty("Plan");
        Assert.Equal(BatchSize, root.GetProperty("Actual Rows").GetDouble());
        // rows read and thrown away by the plan's nodes, all loops together (the waiting-mail index: ~2,000 per claimed row)
        Assert.InRange(RowsRemoved(root), 0, 10 * BatchSize);
    }

    static double RowsRemoved(JsonElement node) =>
        (node.TryGetProperty("Rows Removed by Filter", out var removed) ? removed.GetDouble() * node.GetProperty("Actual Loops").GetDouble() : 0)
        + (node.TryGetProperty("Plans", out var children) ? children.EnumerateArray().Sum(RowsRemoved) : 0);
}
