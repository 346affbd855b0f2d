using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Subscriptions.Api.Admin;

public static class StatsEndpoint
{
    public sealed record ListStats(string List, long Pending, long Confirmed, long Unsubscribed, long SignupsLast24h, long ConfirmationsLast24h);

    public sealed record OutboxStats(long Waiting, double? OldestWaitingSeconds, long DeadLettered);

    public sealed record Stats(IReadOnlyList<ListStats> Lists, OutboxStats Outbox);

    public static RouteGroupBuilder MapStats(this RouteGroupBuilder admin)
    {
        admin.MapGet("/stats", GetStats)
            .WithName("Stats")
            .WithSummary("Per list: subscriptions by status, signups and confirmations in the last 24 hours; the outbox's state.");
        return admin;
    }

    static async Task<Ok<Stats>> GetStats(NpgsqlDataSource dataSource, TimeProvider clock, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        using var results = await connection.QueryMultipleAsync(new CommandDefinition("""
            SELECT l.slug AS List,
                   count(sub.id) FILTER (WHERE sub.status = 'pending') AS Pending,
                   count(sub.id) FILTER (WHERE sub.status = 'confirmed') AS Confirmed,
                   count(sub.id) FILTER (WHERE sub.status = 'unsubscribed') AS Unsubscribed,
                   (SELECT count(*) FROM subscription_events e
                    WHERE e.list_id = l.id AND e.type = 'signup' AND e.occurred_at > @since) AS SignupsLast24h,
                   (SELECT count(*) FROM subscription_events e
                    WHERE e.list_id = l.id AND e.type = 'confirmed' AND e.occurred_at > @since) AS ConfirmationsLast24h
            FROM lists l LEFT JOIN subscriptions sub ON sub.list_id = l.id
            GROUP BY l.id, l.slug
            ORDER BY l.slug;

            SELECT count(*) FILTER (WHERE sent_at IS NULL AND dead_at IS NULL) AS Waiting,
                   extract(epoch FROM @now - min(created_at) FILTER (WHERE sent_at IS NULL AND dead_at IS NULL))::float8 AS OldestWaitingSeconds,
                   count(*) FILTER (WHERE dead_at IS NOT NULL) AS DeadLettered
            FROM outbox;
            """, new { now, since = now.AddDays(-1) }, cancellationToken: cancellationToken));

        var lists = (await results.ReadAsync<ListStats>()).ToList();
        var outbox = await results.ReadSingleAsync<OutboxStats>();
        return TypedResults.Ok(new Stats(lists, outbox));
    }
}
