using Dapper;
using Npgsql;
using Subscriptions.Api.Hosting;

namespace Subscriptions.Api.Admin;

/// <summary>
/// The confirmation funnel per list and source over a window, from the ledger (which keeps its
/// events when retention purges the unconfirmed): signups, confirmations, the confirmation rate,
/// confirmations that came after the reminder, and the time from signup to confirmation in the
/// buckets /metrics uses. Sources are labelled as in /metrics (<see cref="AttributionSources"/>).
/// </summary>
public static class FunnelStats
{
    public const int DefaultDays = 30, MaxDays = 366;

    /// <param name="Le">Upper bound in seconds (Prometheus' le); null = +Inf.</param>
    /// <param name="Count">Confirmations that took at most that long (cumulative, as in Prometheus).</param>
    public sealed record Bucket(double? Le, long Count);

    /// <param name="ConfirmationRate">Confirmations over signups within the window (null without signups); both are counted as they happened, so a window's edge can put it above 1.</param>
    public sealed record Row(
        string List, string Source, long Signups, long Confirmations, double? ConfirmationRate, long ConfirmationsAfterReminder,
        IReadOnlyList<Bucket> TimeToConfirmSeconds);

    public sealed record Funnel(DateTimeOffset Since, DateTimeOffset Until, IReadOnlyList<Row> Rows);

    sealed record Cell(string List, string Source, int? Bucket, long Signups, long Confirmations, long AfterReminder);

    // A confirmation is attributed to the signup it confirmed: the subscription's last signup before
    // it, whose utm_source and time it takes (one index probe each into the subscription's own
    // events). Erased subscriptions' events have lost that link and their attribution: they count
    // under none, without a time. Cells are per list, source and time bucket (the number of bounds
    // below the time: 0 = at most the first); C# folds them.
    public const string FunnelSql = """
        WITH windowed AS (
            SELECT e.list_id, e.type, e.occurred_at, e.subscription_id, e.utm_source
            FROM subscription_events e
            WHERE e.type IN ('signup', 'confirmed') AND e.occurred_at > @since AND e.occurred_at <= @until
        ),
        attributed AS (
            SELECT w.list_id, w.type,
                   CASE WHEN w.type = 'signup' THEN w.utm_source ELSE s.utm_source END AS utm_source,
                   extract(epoch FROM w.occurred_at - s.occurred_at) AS seconds,
                   w.type = 'confirmed' AND EXISTS (
                       SELECT FROM subscription_events r
                       WHERE r.subscription_id = w.subscription_id AND r.type = 'reminder_sent' AND r.occurred_at <= w.occurred_at) AS after_reminder
            FROM windowed w
            LEFT JOIN LATERAL (
                SELECT s.utm_source, s.occurred_at FROM subscription_events s
                WHERE w.type = 'confirmed' AND s.subscription_id = w.subscription_id AND s.type = 'signup' AND s.occurred_at <= w.occurred_at
                ORDER BY s.occurred_at DESC
                LIMIT 1
            ) s ON true
        ),
        labelled AS (
            SELECT list_id, type, after_reminder,
                   CASE WHEN nullif(btrim(utm_source), '') IS NULL THEN 'none'
                        WHEN lower(btrim(utm_source)) = ANY (@known) THEN lower(btrim(utm_source))
                        ELSE 'other' END AS source,
                   CASE WHEN seconds IS NOT NULL THEN (SELECT count(*) FROM unnest(@bounds) b WHERE b < seconds) END AS bucket
            FROM attributed
        )
        SELECT l.slug AS List, labelled.source AS Source, labelled.bucket::int AS Bucket,
               count(*) FILTER (WHERE type = 'signup') AS Signups,
               count(*) FILTER (WHERE type = 'confirmed') AS Confirmations,
               count(*) FILTER (WHERE after_reminder) AS AfterReminder
        FROM labelled JOIN lists l ON l.id = labelled.list_id
        GROUP BY l.slug, labelled.source, labelled.bucket
        """;

    public static async Task<Funnel> ReadAsync(
        NpgsqlConnection connection, AttributionSources sources, DateTimeOffset since, DateTimeOffset until, CancellationToken cancellationToken)
    {
        var bounds = SubscriptionsMetrics.TimeToConfirmBuckets;
        var cells = await connection.QueryAsync<Cell>(new CommandDefinition(FunnelSql,
            new { since, until, known = sources.Known, bounds }, cancellationToken: cancellationToken));

        var rows = cells
            .GroupBy(c => (c.List, c.Source))
            .OrderBy(g => g.Key.List, StringComparer.Ordinal).ThenBy(g => g.Key.Source, StringComparer.Ordinal)
            .Select(g =>
            {
                var signups = g.Sum(c => c.Signups);
                var confirmations = g.Sum(c => c.Confirmations);
                var perBucket = new long[bounds.Length + 1];
                foreach (var cell in g.Where(c => c.Bucket is not null))
                {
                    perBucket[cell.Bucket!.Value] += cell.Confirmations;
                }

                var buckets = new List<Bucket>(perBucket.Length);
                long cumulative = 0;
                for (var i = 0; i < perBucket.Length; i++)
                {
                    cumulative += perBucket[i];
                    buckets.Add(new(i < bounds.Length ? bounds[i] : null, cumulative));
                }

                return new Row(g.Key.List, g.Key.Source, signups, confirmations,
                    signups == 0 ? null : Math.Round((double)confirmations / signups, 4), g.Sum(c => c.AfterReminder), buckets);
            })
            .ToList();
        return new Funnel(since, until, rows);
    }
}
