using Dapper;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Subscriptions.Api.Outbox;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Kernel;

namespace Subscriptions.Api.Suppressions;

/// <summary>
/// The admin API of the suppression list: addresses the service never mails again. Providers'
/// bounce webhooks feed it (Bounces/); any other tool posts here.
/// </summary>
public static class SuppressionEndpoints
{
    public static readonly string[] Reasons = ["hard_bounce", "complaint", "manual", "repeated_soft_bounce"];

    public static RouteGroupBuilder MapSuppressionAdministration(this RouteGroupBuilder admin)
    {
        var suppressions = admin.MapGroup("/suppressions");
        suppressions.MapGet("/", List).WithName("GetSuppressions")
            .WithSummary("Suppressed addresses, newest first (after= pages on by id), with reason, source and the provider's event id.");
        suppressions.MapPost("/", Suppress).WithName("Suppress")
            .WithSummary("Suppresses an address: 201 when it was not yet, 200 with the row when it already was. A complaint unsubscribes it everywhere.");
        suppressions.MapDelete("/{email}", Lift).WithName("LiftSuppression")
            .WithSummary("Lifts a suppression (recorded in the ledger); 404 when the address is not suppressed. Subscriptions a complaint ended stay ended.");
        return admin;
    }

    /// <param name="Email">The address (any form of it: it is normalized).</param>
    /// <param name="Reason">hard_bounce, complaint, manual (the default) or repeated_soft_bounce.</param>
    /// <param name="Source">Who reports it, e.g. the tool's name; default admin.</param>
    /// <param name="EventId">The reporting tool's own id of the event: posting it again changes nothing.</param>
    public sealed record SuppressionInput(string? Email, string? Reason = null, string? Source = null, string? EventId = null);

    public sealed record Suppression(long Id, string Email, string Reason, string Source, string? EventId, long? OutboxId, DateTime SuppressedAt);

    const string Columns = """
        id AS Id, email AS Email, reason AS Reason, source AS Source, provider_event_id AS EventId, outbox_id AS OutboxId,
        suppressed_at AS SuppressedAt
        """;

    static async Task<Results<Ok<List<Suppression>>, ValidationProblem>> List(
        int? limit, long? after, string? reason, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (limit is < 1 or > 1000)
        {
            errors["limit"] = ["limit is between 1 and 1000."];
        }

        if (after is < 1)
        {
            errors["after"] = ["after is the id of a suppression."];
        }

        if (reason is not null && !Reasons.Contains(reason))
        {
            errors["reason"] = [$"reason is one of {string.Join(", ", Reasons)}."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<Suppression>(new CommandDefinition($"""
            SELECT {Columns} FROM suppressions
            WHERE lifted_at IS NULL AND (@after::bigint IS NULL OR id < @after) AND (@reason::text IS NULL OR reason = @reason)
            ORDER BY id DESC
            LIMIT @limit
            """, new { after, reason, limit = limit ?? 100 }, cancellationToken: cancellationToken));
        return TypedResults.Ok(rows.ToList());
    }

    static async Task<Results<Created<Suppression>, Ok<Suppression>, ValidationProblem>> Suppress(
        SuppressionInput input, SuppressionInputValidator validator, NpgsqlDataSource dataSource, OutboxSignal signal,
        TimeProvider clock, CancellationToken cancellationToken)
    {
        var validation = await validator.ValidateAsync(input, cancellationToken);
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.ToDictionary());
        }

        EmailAddress.TryNormalize(input.Email, out var email);
        var source = string.IsNullOrWhiteSpace(input.Source) ? "admin" : input.Source.Trim();
        var eventId = string.IsNullOrWhiteSpace(input.EventId) ? null : input.EventId.Trim();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var created = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT suppress_address(@email, @reason, @source, @eventId, NULL, @now)",
            new { email, reason = input.Reason ?? "manual", source, eventId, now = clock.GetUtcNow() }, cancellationToken: cancellationToken));
        // the active row; or, for an event posted again after its suppression was lifted, the row it made then
        var row = await connection.QuerySingleAsync<Suppression>(new CommandDefinition($"""
            SELECT {Columns} FROM suppressions
            WHERE (email = @email AND lifted_at IS NULL) OR (source = @source AND provider_event_id = @eventId)
            ORDER BY lifted_at DESC NULLS FIRST LIMIT 1
            """, new { email, source, eventId }, cancellationToken: cancellationToken));
        if (created is null)
        {
            return TypedResults.Ok(row);
        }

        signal.Raise(OutboxLane.Webhooks);
        return TypedResults.Created("/api/admin/suppressions", row);
    }

    static async Task<Results<NoContent, NotFound, ValidationProblem>> Lift(
        string email, NpgsqlDataSource dataSource, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (!EmailAddress.TryNormalize(email, out var normalized))
        {
            return AddressProblem.NotAnAddress();
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var lifted = await connection.ExecuteScalarAsync<long>(new CommandDefinition("""
            WITH lifted AS (
                UPDATE suppressions SET lifted_at = @now WHERE email = @normalized AND lifted_at IS NULL
                RETURNING reason
            ),
            recorded AS (
                INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at, source, reason)
                SELECT sub.id, sub.list_id, 'suppression_lifted', @now, 'admin', lifted.reason
                FROM lifted, subscribers s JOIN subscriptions sub ON sub.subscriber_id = s.id
                WHERE s.email = @normalized
            )
            SELECT count(*) FROM lifted
            """, new { normalized, now = clock.GetUtcNow() }, cancellationToken: cancellationToken));
        return lifted == 0 ? TypedResults.NotFound() : TypedResults.NoContent();
    }
}

public sealed class SuppressionInputValidator : AbstractValidator<SuppressionEndpoints.SuppressionInput>
{
    public SuppressionInputValidator()
    {
        RuleLevelCascadeMode = CascadeMode.Stop;

        RuleFor(x => x.Email)
            .NotEmpty().WithMessage("Give the address to suppress.")
            .Must(e => EmailAddress.TryNormalize(e, out _)).WithMessage("Not a valid address.")
            .OverridePropertyName("email");

        RuleFor(x => x.Reason)
            .Must(r => SuppressionEndpoints.Reasons.Contains(r)).WithMessage($"reason is one of {string.Join(", ", SuppressionEndpoints.Reasons)}.")
            .When(x => x.Reason is not null)
            .OverridePropertyName("reason");

        RuleFor(x => x.Source)
            .Must(s => s!.Trim().Length is > 0 and <= 100 && InputRules.IsPlainText(s)).WithMessage("source is plain text of at most 100 characters.")
            .When(x => x.Source is not null)
            .OverridePropertyName("source");

        RuleFor(x => x.EventId)
            .Must(s => s!.Trim().Length is > 0 and <= 200 && InputRules.IsPlainText(s)).WithMessage("eventId is plain text of at most 200 characters.")
            .When(x => x.EventId is not null)
            .OverridePropertyName("eventId");
    }
}
