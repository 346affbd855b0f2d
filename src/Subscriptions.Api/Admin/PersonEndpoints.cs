using System.Globalization;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;
using Subscriptions.Api.Confirmation;
using Subscriptions.Api.Data;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Kernel;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Outbox;

namespace Subscriptions.Api.Admin;

/// <summary>One person: what the service holds about them (an access request), and a new confirmation mail.</summary>
public static class PersonEndpoints
{
    public static RouteGroupBuilder MapPerson(this RouteGroupBuilder admin)
    {
        admin.MapGet("/subscribers/{email}", Show)
            .WithName("ShowSubscriber")
            .WithSummary("Everything held about one person (GDPR Art. 15): subscriber, subscriptions with consent evidence, ledger, mails.");
        admin.MapPost("/subscribers/{email}/resend", Resend)
            .WithName("ResendConfirmation")
            .WithSummary("Queues a new confirmation mail for a pending address, within the same caps as a repeat signup.")
            .ProducesProblem(StatusCodes.Status409Conflict);
        return admin;
    }

    static async Task<Results<Ok<PersonalData.Document>, NotFound, ValidationProblem>> Show(
        string email, NpgsqlDataSource dataSource, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (!EmailAddress.TryNormalize(email, out var normalized))
        {
            return AddressProblem.NotAnAddress();
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await PersonalData.ByEmailAsync(connection, normalized, clock.GetUtcNow(), cancellationToken) is { } document
            ? TypedResults.Ok(document)
            : TypedResults.NotFound();
    }

    public sealed record ResendQueued(string Status, string[] Lists);

    // Properties rather than a positional record: Npgsql declares text[] as System.Array, which Dapper's constructor matching refuses.
    sealed class Caps
    {
        public long? SubscriberId { get; init; }
        public bool Suppressed { get; init; }
        public DateTime? LastAt { get; init; }
        public long LastDay { get; init; }
        public DateTime? DayFreesAt { get; init; }
        public string[] PendingLists { get; init; } = [];
    }

    // The caps a repeat signup keeps (SignupEndpoints.SubscribeSql): mails to the address at most
    // every ResendInterval and DailyLimit times a day, counted over its confirmation and reminder
    // mails (one per moment, however many lists it was for). DayFreesAt is when the oldest mail that
    // keeps the address at its daily limit leaves the 24 hours.
    const string CapsSql = """
        WITH subscriber AS (
            SELECT id, email FROM subscribers WHERE email = @email FOR UPDATE
        ),
        moments AS (
            SELECT DISTINCT o.created_at FROM outbox o JOIN subscriptions sub ON sub.id = o.subscription_id
            WHERE sub.subscriber_id = (SELECT id FROM subscriber)
        )
        SELECT (SELECT id FROM subscriber) AS SubscriberId,
               address_suppressed(@email, @addressHash) AS Suppressed,
               (SELECT max(created_at) FROM moments) AS LastAt,
               (SELECT count(*) FROM moments WHERE created_at > @now - interval '1 day') AS LastDay,
               (SELECT created_at + interval '1 day' FROM moments WHERE created_at > @now - interval '1 day'
                ORDER BY created_at OFFSET greatest(0, (SELECT count(*) FROM moments WHERE created_at > @now - interval '1 day') - @dailyLimit) LIMIT 1) AS DayFreesAt,
               ARRAY(SELECT l.slug FROM subscriptions sub JOIN lists l ON l.id = sub.list_id
                     WHERE sub.subscriber_id = (SELECT id FROM subscriber) AND sub.status = 'pending' ORDER BY sub.id) AS PendingLists
        """;

    // A confirmation mail per pending subscription, in the language of its last one (else the
    // subscriber's, else the list's), and a ledger row saying an editor asked for it; a mail already
    // waiting stays the one.
    const string ResendSql = """
        WITH traced AS (
            SELECT set_config('subscriptions.traceparent', coalesce(@traceparent, ''), true) -- the request's trace, for the mails (0018)
        ),
        pending AS (
            SELECT sub.id, sub.list_id,
                   coalesce((SELECT o.locale FROM outbox o WHERE o.subscription_id = sub.id AND o.kind IN ('confirmation', 'reminder')
                             ORDER BY o.id DESC LIMIT 1),
                            @language, lower(split_part(l.default_locale, '-', 1))) AS language
            FROM subscriptions sub JOIN lists l ON l.id = sub.list_id
            WHERE sub.subscriber_id = @subscriberId AND sub.status = 'pending'
        ),
        recorded AS (
            INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at, source)
            SELECT id, list_id, 'resend_requested', @now, 'admin' FROM pending
        )
        INSERT INTO outbox (subscription_id, kind, locale, created_at, due_at)
        SELECT id, 'confirmation', language, @now, @now FROM pending, traced
        ON CONFLICT (subscription_id, kind) WHERE sent_at IS NULL AND dead_at IS NULL DO NOTHING
        """;

    /// <remarks>
    /// 202 when queued; 404 for an unknown address; 409 when nothing is pending or the address is
    /// suppressed; 429 with Retry-After and <c>nextAllowedAt</c> when the caps say not yet.
    /// </remarks>
    static async Task<Results<Accepted<ResendQueued>, NotFound, ValidationProblem, ProblemHttpResult>> Resend(
        string email, HttpResponse response, NpgsqlDataSource dataSource, ServiceKeys keys, OutboxSignal signal,
        IOptions<ConfirmationOptions> options, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (!EmailAddress.TryNormalize(email, out var normalized))
        {
            return AddressProblem.NotAnAddress();
        }

        var now = clock.GetUtcNow();
        var addressHash = await keys.MacAsync("erasure", normalized, cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var caps = await connection.QuerySingleAsync<Caps>(new CommandDefinition(CapsSql,
            new { email = normalized, addressHash, now, dailyLimit = options.Value.DailyLimit }, transaction, cancellationToken: cancellationToken));
        if (caps.SubscriberId is not { } subscriberId)
        {
            return TypedResults.NotFound();
        }

        if (caps.Suppressed)
        {
            return TypedResults.Problem("The address is suppressed: the service sends it nothing.",
                statusCode: StatusCodes.Status409Conflict, title: "Address suppressed");
        }

        if (caps.PendingLists.Length == 0)
        {
            return TypedResults.Problem("The address has no pending subscription: there is nothing to confirm.",
                statusCode: StatusCodes.Status409Conflict, title: "Nothing pending");
        }

        var nextAllowed = new[]
        {
            caps.LastAt is { } last ? new DateTimeOffset(last, TimeSpan.Zero) + options.Value.ResendInterval : now,
            caps.LastDay >= options.Value.DailyLimit && caps.DayFreesAt is { } frees ? new DateTimeOffset(frees, TimeSpan.Zero) : now,
        }.Max();
        if (nextAllowed > now)
        {
            response.Headers.RetryAfter = ((long)Math.Ceiling((nextAllowed - now).TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            return TypedResults.Problem($"Too many confirmation mails to this address: the next may be sent at {nextAllowed.UtcDateTime:O}.",
                statusCode: StatusCodes.Status429TooManyRequests, title: "Not yet",
                extensions: new Dictionary<string, object?> { ["nextAllowedAt"] = nextAllowed.UtcDateTime });
        }

        var locale = await connection.QuerySingleOrDefaultAsync<string?>(new CommandDefinition(
            "SELECT locale FROM subscribers WHERE id = @subscriberId", new { subscriberId }, transaction, cancellationToken: cancellationToken));
        var language = locale is null ? null : Languages.Choose(locale, [], null);
        await connection.ExecuteAsync(new CommandDefinition(ResendSql, new { subscriberId, now, language, traceparent = Tracing.CurrentTraceparent }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        signal.Raise();
        return TypedResults.Accepted($"/api/admin/subscribers/{Uri.EscapeDataString(normalized)}", new ResendQueued("queued", caps.PendingLists));
    }
}
