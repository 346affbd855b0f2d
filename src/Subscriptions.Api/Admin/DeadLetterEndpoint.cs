using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Subscriptions.Api.Outbox;

namespace Subscriptions.Api.Admin;

/// <summary>Mail and webhook deliveries that died (a misconfigured relay, a receiver that was down), queued again.</summary>
public static class DeadLetterEndpoint
{
    static readonly string[] Kinds = ["confirmation", "reminder", "welcome", "webhook"];

    public static RouteGroupBuilder MapDeadLetters(this RouteGroupBuilder admin)
    {
        admin.MapPost("/outbox/dead/retry", Retry)
            .WithName("RetryDeadLetters")
            .WithSummary("Queues dead-lettered mail and webhook deliveries again: all ({}), or those of one kind that died within [since, until).")
            .ProducesProblem(StatusCodes.Status409Conflict);
        return admin;
    }

    /// <summary>What to queue again; <c>{}</c> is everything. A body is required, so that a bare POST retries nothing by accident.</summary>
    public sealed record RetryFilter(
        [property: System.ComponentModel.Description("confirmation, reminder, welcome or webhook; all when absent.")] string? Kind = null,
        [property: System.ComponentModel.Description("Only what died at or after this time.")] DateTimeOffset? Since = null,
        [property: System.ComponentModel.Description("Only what died before this time.")] DateTimeOffset? Until = null);

    public sealed record Requeued(long Total, IReadOnlyDictionary<string, long> ByKind);

    // Only what still makes sense goes back: a confirmation or reminder while its subscription is
    // pending, a welcome while it is confirmed, a webhook while its endpoint is enabled; no mail to
    // a suppressed address (the dispatcher would only dead-letter it again); per subscription and
    // kind only the newest mail, and none while another waits (a resend queued since). Each mail
    // queued again is a 'requeued' ledger row with the kind as reason; webhook deliveries, which
    // belong to no subscription, are counted in the answer and show in their endpoint's deliveries.
    public const string RetrySql = """
        WITH candidates AS (
            SELECT o.id FROM outbox o
            LEFT JOIN subscriptions sub ON sub.id = o.subscription_id
            LEFT JOIN subscribers s ON s.id = sub.subscriber_id
            LEFT JOIN webhook_endpoints w ON w.id = o.webhook_endpoint_id
            WHERE o.dead_at IS NOT NULL AND o.sent_at IS NULL
              AND (@kind::text IS NULL OR o.kind = @kind)
              AND (@since::timestamptz IS NULL OR o.dead_at >= @since)
              AND (@until::timestamptz IS NULL OR o.dead_at < @until)
              AND CASE o.kind WHEN 'webhook' THEN w.disabled_at IS NULL
                              WHEN 'welcome' THEN sub.status = 'confirmed'
                              ELSE sub.status = 'pending' END
              AND (o.kind = 'webhook' OR (
                       NOT EXISTS (SELECT FROM suppressions sup WHERE sup.email = s.email AND sup.lifted_at IS NULL)
                   AND NOT EXISTS (SELECT FROM outbox n WHERE n.subscription_id = o.subscription_id AND n.kind = o.kind
                                   AND (n.id > o.id OR (n.sent_at IS NULL AND n.dead_at IS NULL)))))
            FOR UPDATE OF o SKIP LOCKED
        ),
        requeued AS (
            UPDATE outbox o SET dead_at = NULL, attempts = 0, due_at = @now, last_error = NULL, locked_until = NULL, claim = NULL
            FROM candidates c WHERE o.id = c.id
            RETURNING o.id, o.kind, o.subscription_id
        ),
        recorded AS (
            INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at, source, reason)
            SELECT r.subscription_id, sub.list_id, 'requeued', @now, 'admin', r.kind
            FROM requeued r JOIN subscriptions sub ON sub.id = r.subscription_id ORDER BY r.id
        )
        SELECT kind AS Kind, count(*) AS Count FROM requeued GROUP BY kind ORDER BY kind
        """;

    static async Task<Results<Ok<Requeued>, ValidationProblem, ProblemHttpResult>> Retry(
        RetryFilter filter, NpgsqlDataSource dataSource, OutboxSignal signal, TimeProvider clock, CancellationToken cancellationToken)
    {
        var (kind, since, until) = filter;
        var errors = new Dictionary<string, string[]>();
        if (kind is not null && !Kinds.Contains(kind))
        {
            errors["kind"] = ["kind is confirmation, reminder, welcome or webhook."];
        }

        if (since is { } from && until is { } to && to <= from)
        {
            errors["until"] = ["until must be after since."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var counts = (await connection.QueryAsync<(string Kind, long Count)>(new CommandDefinition(RetrySql, new
            {
                kind,
                since = since?.ToUniversalTime(),
                until = until?.ToUniversalTime(),
                now = clock.GetUtcNow(),
            }, cancellationToken: cancellationToken))).ToDictionary(c => c.Kind, c => c.Count);
            if (counts.Count > 0)
            {
                signal.Raise();
            }

            return TypedResults.Ok(new Requeued(counts.Values.Sum(), counts));
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            // a signup queued the same subscription's mail between the look and the change: nothing was changed
            return TypedResults.Problem("Mail was queued for one of these subscriptions meanwhile; nothing was changed. Try again.",
                statusCode: StatusCodes.Status409Conflict, title: "Changed meanwhile");
        }
    }
}
