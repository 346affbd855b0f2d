using System.ComponentModel;
using System.Globalization;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Subscriptions.Api.Data;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Outbox;

namespace Subscriptions.Api.Admin;

public static class StatsEndpoint
{
    /// <summary>A list's subscriptions by status (held: at a disposable domain under Signup__DisposableDomains=Hold), and its confirmation funnel over the last 24 hours.</summary>
    public sealed record ListStats(
        string List, long Pending, long Confirmed, long Unsubscribed, long Held,
        long SignupsLast24h, long ConfirmationsLast24h, long RemindersSentLast24h, long ConfirmationsAfterReminderLast24h);

    /// <summary>What waits in the outbox (all kinds), and per kind.</summary>
    public sealed record OutboxStats(long Waiting, double? OldestWaitingSeconds, long DeadLettered, IReadOnlyDictionary<string, long> WaitingByKind);

    /// <param name="Funnel">Per list and source over the last <c>days</c> (FunnelStats).</param>
    /// <param name="RejectedSinceStart">Signups this instance refused since it started, by reason (the signups counter's outcomes); /metrics adds up every instance's.</param>
    public sealed record Stats(
        IReadOnlyList<ListStats> Lists, OutboxStats Outbox, FunnelStats.Funnel Funnel, IReadOnlyDictionary<string, long> RejectedSinceStart);

    public static RouteGroupBuilder MapStats(this RouteGroupBuilder admin)
    {
        admin.MapGet("/stats", GetStats)
            .WithName("Stats")
            .ReadsReplica()
            .WithSummary("Per list: subscriptions by status and the last 24 hours' funnel (signups, reminders, confirmations, those after a reminder); the outbox's state; "
                + "the funnel per list and source over the last `days` (default 30): signups, confirmations, rate, after the reminder, time to confirm; refused signups by reason.");
        return admin;
    }

    static async Task<Results<Ok<Stats>, ValidationProblem>> GetStats(
        HttpContext http, NpgsqlDataSource dataSource, ReadOnlyDatabase reads, TimeProvider clock, AttributionSources sources, SubscriptionsMetrics metrics,
        [Description("The funnel's window in whole days, 1 to 366 (default 30).")] string? days,
        CancellationToken cancellationToken)
    {
        if (Window(days, http.Request.Query.ContainsKey("days")) is not { } window)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["days"] = [$"days is a whole number from 1 to {FunnelStats.MaxDays}."] });
        }

        var now = clock.GetUtcNow();
        // Counts and the funnel scan the ledger: the replica's work when one is configured. The
        // outbox is the dispatcher's live state, cheap to read and the same the primary's /metrics
        // show, so it comes from the primary.
        await using var connection = await reads.OpenAsync(http.Response, cancellationToken);
        await using var primaryConnection = reads.IsReplica ? await dataSource.OpenConnectionAsync(cancellationToken) : null;
        var outbox = primaryConnection ?? connection;
        var lists = (await connection.QueryAsync<ListStats>(new CommandDefinition("""
            SELECT l.slug AS List,
                   count(sub.id) FILTER (WHERE sub.status = 'pending') AS Pending,
                   count(sub.id) FILTER (WHERE sub.status = 'confirmed') AS Confirmed,
                   count(sub.id) FILTER (WHERE sub.status = 'unsubscribed') AS Unsubscribed,
                   count(sub.id) FILTER (WHERE sub.status = 'held') AS Held,
                   funnel.signups AS SignupsLast24h, funnel.confirmations AS ConfirmationsLast24h,
                   funnel.reminders AS RemindersSentLast24h, funnel.after_reminder AS ConfirmationsAfterReminderLast24h
            FROM lists l
            LEFT JOIN subscriptions sub ON sub.list_id = l.id
            CROSS JOIN LATERAL (
                SELECT count(*) FILTER (WHERE e.type = 'signup') AS signups,
                       count(*) FILTER (WHERE e.type = 'confirmed') AS confirmations,
                       count(*) FILTER (WHERE e.type = 'reminder_sent') AS reminders,
                       count(*) FILTER (WHERE e.type = 'confirmed' AND EXISTS (
                           SELECT FROM subscription_events r
                           WHERE r.subscription_id = e.subscription_id AND r.type = 'reminder_sent' AND r.occurred_at <= e.occurred_at)) AS after_reminder
                FROM subscription_events e
                WHERE e.list_id = l.id AND e.type IN ('signup', 'confirmed', 'reminder_sent') AND e.occurred_at > @since
            ) funnel
            GROUP BY l.id, l.slug, funnel.signups, funnel.confirmations, funnel.reminders, funnel.after_reminder
            ORDER BY l.slug
            """, new { since = now.AddDays(-1) }, cancellationToken: cancellationToken))).ToList();

        var depth = await OutboxSql.QueueDepthAsync(outbox, cancellationToken);
        var dead = await outbox.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL", cancellationToken: cancellationToken));
        var funnel = await FunnelStats.ReadAsync(connection, sources, now.AddDays(-window), now, cancellationToken);
        var oldest = depth.Min(d => d.OldestCreatedAt);
        return TypedResults.Ok(new Stats(lists, new OutboxStats(
            depth.Sum(d => d.Waiting),
            oldest is { } created ? (now.UtcDateTime - created).TotalSeconds : null,
            dead,
            depth.ToDictionary(d => d.Kind, d => d.Waiting)), funnel, metrics.RejectedSinceStart()));
    }

    // digits only, since int.Parse would also take "1\0"; given but empty is no number either
    static int? Window(string? days, bool given) =>
        !given ? FunnelStats.DefaultDays
        : days is null ? null
        : days.Length is > 0 and <= 3 && days.All(char.IsAsciiDigit) && int.Parse(days, CultureInfo.InvariantCulture) is var n and >= 1 and <= FunnelStats.MaxDays ? n
        : null;
}
