using System.Text.Json;
using Dapper;
using Npgsql;
using Subscriptions.Api.Kernel;

namespace Subscriptions.Api.Bounces;

/// <summary>One bounce or complaint a provider reported, as every provider's reader turns it out.</summary>
/// <param name="Kind">hard_bounce, soft_bounce or complaint.</param>
public sealed record BounceReport(string EventId, string Email, string Kind, long? OutboxId, DateTimeOffset OccurredAt);

/// <summary>What a provider's reader made of a request.</summary>
public abstract record BounceVerdict
{
    /// <summary>Not from the provider: unsigned, mis-signed, stale or replayed (401).</summary>
    public sealed record Refused(string Reason) : BounceVerdict;

    /// <summary>From the provider (or unsigned but unreadable), but not a body it sends (400).</summary>
    public sealed record Malformed(string Reason) : BounceVerdict;

    /// <summary>Verified. <paramref name="Nonce"/>: a one-time value the request must not have carried before.</summary>
    public sealed record Accepted(IReadOnlyList<BounceReport> Reports, string? Nonce = null) : BounceVerdict;

    /// <summary>Verified, and a subscription to the provider's notifications was confirmed (SNS).</summary>
    public sealed record Confirmed : BounceVerdict;

    /// <summary>Verified, but what it asks for could not be done now (a subscription confirmation that failed): try again.</summary>
    public sealed record Unavailable(string Reason) : BounceVerdict;
}

/// <summary>The pieces of the providers' JSON the readers share.</summary>
public static class BounceJson
{
    public static readonly JsonDocumentOptions Options = new() { MaxDepth = 32 };

    public static JsonDocument? TryParse(ReadOnlyMemory<byte> body)
    {
        try
        {
            return JsonDocument.Parse(body, Options);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? Text(value, numbers: false) : null;

    /// <summary>
    /// A string's value (a number's digits too, when <paramref name="numbers"/>); null for other
    /// kinds, and for a string JSON allows but .NET cannot hold (an escaped lone surrogate).
    /// </summary>
    public static string? Text(JsonElement value, bool numbers = true)
    {
        try
        {
            return value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Number when numbers => value.GetRawText(),
                _ => null,
            };
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// An id the database can keep: short, printable, whole UTF-16 (a lone surrogate or a NUL
    /// would fail the statement rather than the request).
    /// </summary>
    public static bool IsSafeId(string? value) =>
        value is { Length: > 0 and <= 200 } && !value.Any(c => char.IsControl(c) || char.IsSurrogate(c));

    /// <summary>A report for an address the service could have stored; null for anything else (acknowledged, ignored).</summary>
    public static BounceReport? Report(string eventId, string? email, string kind, long? outboxId, DateTimeOffset occurredAt) =>
        EmailAddress.TryNormalize(email, out var normalized) ? new BounceReport(eventId, normalized, kind, outboxId, occurredAt.ToUniversalTime()) : null;
}

/// <summary>Records verified reports: record_bounce (0008) per report, and the request's nonce, in one transaction.</summary>
public static class BounceRecorder
{
    /// <summary>Fresh is false, and nothing is stored, when the nonce was seen before; Suppressed when a report suppressed an address.</summary>
    public static async Task<(bool Fresh, bool Suppressed)> RecordAsync(NpgsqlDataSource dataSource, string provider, BounceVerdict.Accepted verdict,
        int softBounceLimit, TimeSpan replayWindow, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (verdict.Nonce is null && verdict.Reports.Count == 0)
        {
            return (true, false); // nothing to keep (an event the service does not act on, an unknown address)
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (verdict.Nonce is { } nonce)
        {
            // nonces older than the window need not be kept: a request that old is refused by its timestamp
            var fresh = await connection.ExecuteScalarAsync<long>(new CommandDefinition("""
                DELETE FROM bounce_webhook_nonces WHERE provider = @provider AND seen_at < @now - @replayWindow - interval '1 minute';
                WITH seen AS (
                    INSERT INTO bounce_webhook_nonces (provider, nonce, seen_at) VALUES (@provider, @nonce, @now)
                    ON CONFLICT DO NOTHING RETURNING 1
                )
                SELECT count(*) FROM seen;
                """, new { provider, nonce, now, replayWindow }, transaction, cancellationToken: cancellationToken));
            if (fresh == 0)
            {
                return (false, false);
            }
        }

        var reports = verdict.Reports;
        var outcomes = (await connection.QueryAsync<string>(new CommandDefinition("""
            SELECT record_bounce(@provider, r.event_id, r.email, r.kind, r.outbox_id, r.occurred_at, @now, @softBounceLimit)
            FROM unnest(@eventIds, @emails, @kinds, @outboxIds, @occurredAts) WITH ORDINALITY AS r(event_id, email, kind, outbox_id, occurred_at, n)
            ORDER BY r.n
            """, new
        {
            provider,
            eventIds = reports.Select(r => r.EventId).ToArray(),
            emails = reports.Select(r => r.Email).ToArray(),
            kinds = reports.Select(r => r.Kind).ToArray(),
            outboxIds = reports.Select(r => r.OutboxId).ToArray(),
            occurredAts = reports.Select(r => r.OccurredAt).ToArray(),
            now,
            softBounceLimit,
        }, transaction, cancellationToken: cancellationToken))).ToList();
        await transaction.CommitAsync(cancellationToken);
        return (true, outcomes.Contains("suppressed"));
    }
}
