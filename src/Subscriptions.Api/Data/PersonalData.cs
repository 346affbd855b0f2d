using Dapper;
using Npgsql;

namespace Subscriptions.Api.Data;

/// <summary>
/// Everything the service holds about one person (GDPR Art. 15): the subscriber, each subscription
/// with its consent evidence, the ledger, and the mails (kind and time; no tokens, no content).
/// One document for the editor answering an access request and for the reader's own download.
/// </summary>
public static class PersonalData
{
    public sealed record Document(
        DateTimeOffset GeneratedAt, Person Subscriber, IReadOnlyList<Subscription> Subscriptions, IReadOnlyList<LedgerEvent> Ledger,
        IReadOnlyList<Mail> Mails);

    public sealed record Person(
        string Email, string EmailAsTyped, string? Name, string? Locale, DateTime CreatedAt, DateTime UpdatedAt,
        string? SuppressedReason, DateTime? SuppressedAt);

    public sealed record Consent(DateTime At, string? Ip, string? UserAgent, string? Source, string TextVersion, string? TextLanguage);

    public sealed record Subscription(
        string List, string ListName, string Status, DateTime CreatedAt, DateTime? ConfirmedAt, DateTime? UnsubscribedAt, Consent Consent);

    public sealed record LedgerEvent(
        string List, string Type, DateTime OccurredAt, string? Ip, string? UserAgent, string? Source,
        string? ConsentTextVersion, string? ConsentTextLanguage, string? Reason);

    public sealed record Mail(string Kind, string List, string Language, DateTime QueuedAt, DateTime? SentAt, DateTime? DeadAt, string Status);

    sealed record SubscriptionRow(
        string List, string ListName, string Status, DateTime CreatedAt, DateTime? ConfirmedAt, DateTime? UnsubscribedAt,
        DateTime ConsentAt, string? ConsentIp, string? ConsentUserAgent, string? ConsentSource, string ConsentTextVersion, string? ConsentTextLanguage);

    /// <summary>The person with this normalized address, or null when the service holds nobody by it.</summary>
    public static async Task<Document?> ByEmailAsync(NpgsqlConnection connection, string normalizedEmail, DateTimeOffset now, CancellationToken cancellationToken) =>
        await connection.QuerySingleOrDefaultAsync<long?>(new CommandDefinition(
            "SELECT id FROM subscribers WHERE email = @normalizedEmail", new { normalizedEmail }, cancellationToken: cancellationToken)) is { } id
            ? await ByIdAsync(connection, id, now, cancellationToken)
            : null;

    /// <summary>The person with this subscriber id, or null when there is none (erased since, say).</summary>
    public static async Task<Document?> ByIdAsync(NpgsqlConnection connection, long subscriberId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // one snapshot for the four parts, so they agree with each other
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        using var parts = await connection.QueryMultipleAsync(new CommandDefinition("""
            SELECT s.email AS Email, s.email_as_typed AS EmailAsTyped, s.name AS Name, s.locale AS Locale,
                   s.created_at AS CreatedAt, s.updated_at AS UpdatedAt, sup.reason AS SuppressedReason, sup.suppressed_at AS SuppressedAt
            FROM subscribers s LEFT JOIN suppressions sup ON sup.email = s.email AND sup.lifted_at IS NULL
            WHERE s.id = @subscriberId;

            SELECT l.slug AS List, l.name AS ListName, sub.status AS Status, sub.created_at AS CreatedAt,
                   sub.confirmed_at AS ConfirmedAt, sub.unsubscribed_at AS UnsubscribedAt, sub.consent_at AS ConsentAt,
                   host(sub.consent_ip) AS ConsentIp, sub.consent_user_agent AS ConsentUserAgent, sub.consent_source AS ConsentSource,
                   sub.consent_text_version AS ConsentTextVersion, sub.consent_text_language AS ConsentTextLanguage
            FROM subscriptions sub JOIN lists l ON l.id = sub.list_id
            WHERE sub.subscriber_id = @subscriberId ORDER BY sub.id;

            SELECT l.slug AS List, e.type AS Type, e.occurred_at AS OccurredAt, host(e.ip) AS Ip, e.user_agent AS UserAgent,
                   e.source AS Source, e.consent_text_version AS ConsentTextVersion, e.consent_text_language AS ConsentTextLanguage,
                   e.reason AS Reason
            FROM subscription_events e JOIN subscriptions sub ON sub.id = e.subscription_id JOIN lists l ON l.id = e.list_id
            WHERE sub.subscriber_id = @subscriberId ORDER BY e.id;

            SELECT o.kind AS Kind, l.slug AS List, o.locale AS Language, o.created_at AS QueuedAt, o.sent_at AS SentAt, o.dead_at AS DeadAt,
                   CASE WHEN o.sent_at IS NOT NULL THEN 'sent' WHEN o.dead_at IS NOT NULL THEN 'not sent' ELSE 'waiting' END AS Status
            FROM outbox o JOIN subscriptions sub ON sub.id = o.subscription_id JOIN lists l ON l.id = sub.list_id
            WHERE sub.subscriber_id = @subscriberId ORDER BY o.id;
            """, new { subscriberId }, transaction, cancellationToken: cancellationToken));
        var person = await parts.ReadSingleOrDefaultAsync<Person>();
        if (person is null)
        {
            return null;
        }

        var subscriptions = (await parts.ReadAsync<SubscriptionRow>())
            .Select(r => new Subscription(r.List, r.ListName, r.Status, r.CreatedAt, r.ConfirmedAt, r.UnsubscribedAt,
                new Consent(r.ConsentAt, r.ConsentIp, r.ConsentUserAgent, r.ConsentSource, r.ConsentTextVersion, r.ConsentTextLanguage)))
            .ToList();
        var ledger = (await parts.ReadAsync<LedgerEvent>()).ToList();
        var mails = (await parts.ReadAsync<Mail>()).ToList();
        await transaction.CommitAsync(cancellationToken);
        return new Document(now, person, subscriptions, ledger, mails);
    }
}
