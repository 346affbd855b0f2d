using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Pages;
using Subscriptions.Api.Protection;

namespace Subscriptions.Api.Confirmation;

public static class ConfirmationEndpoints
{
    public const string Path = "/confirm";

    public static IEndpointRouteBuilder MapConfirmation(this IEndpointRouteBuilder app)
    {
        var confirm = app.MapGroup(ConfirmationEndpoints.Path).RequireRateLimiting(RateLimiting.Links).WithTags("Confirmation");

        confirm.MapGet("/{token}", ShowConfirmPage)
            .WithName("ShowConfirmation")
            .WithSummary("The page a confirmation link opens: one Confirm button. Changes nothing, so mail scanners may prefetch it.");

        confirm.MapPost("/{token}", Confirm)
            .WithName("Confirm")
            .WithSummary("Confirms the subscription: 303 to the list's confirmed page, or JSON when asked.")
            .Produces(StatusCodes.Status303SeeOther)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status410Gone)
            .DisableAntiforgery();

        app.MapGet("/signup/confirmed", ConfirmedPage)
            .WithName("SignupConfirmed")
            .ExcludeFromDescription();

        return app;
    }

    sealed record TokenTarget(string ListSlug, string ListName, string Status, DateTime ExpiresAt, DateTime? UsedAt, string? SignupPage);

    public sealed record Confirmed(string Status, string List);

    const string LookupSql = """
        SELECT l.slug AS ListSlug, l.name AS ListName, sub.status AS Status,
               t.expires_at AS ExpiresAt, t.used_at AS UsedAt, sub.consent_source AS SignupPage
        FROM tokens t
        JOIN subscriptions sub ON sub.id = t.subscription_id
        JOIN lists l ON l.id = sub.list_id
        WHERE t.hash = @hash AND t.purpose = 'confirm'
        """;

    static async Task<ContentHttpResult> ShowConfirmPage(string token, NpgsqlDataSource dataSource, TimeProvider clock, CancellationToken cancellationToken)
    {
        var target = await LookupAsync(dataSource, token, cancellationToken);
        if (Unusable(target, clock) is { } refusal)
        {
            return refusal;
        }

        return HostedPage.Render("Confirm your subscription", $"""
            <p>Press the button to start receiving “{HostedPage.Encode(target!.ListName)}”.</p>
            <form method="post">
            <button type="submit" autofocus>Confirm</button>
            </form>
            """);
    }

    static async Task<Results<SeeOtherHttpResult, Ok<Confirmed>, ContentHttpResult, ProblemHttpResult>> Confirm(
        string token, HttpRequest request, NpgsqlDataSource dataSource, SubscriptionsMetrics metrics, TimeProvider clock,
        CancellationToken cancellationToken)
    {
        var wantsJson = request.GetTypedHeaders().Accept.Any(a => a.MediaType.Value is "application/json" or "application/problem+json");
        var hash = Token.Hash(token);
        var now = clock.GetUtcNow();
        (string Slug, string? ConfirmedUrl)? confirmed = null;
        if (hash is not null)
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);

            // One statement: the token is spent, the subscription confirmed and the ledger
            // written together, or nothing happens at all.
            confirmed = await connection.QuerySingleOrDefaultAsync<(string, string?)?>(new CommandDefinition("""
                WITH spent AS (
                    UPDATE tokens SET used_at = @now
                    WHERE hash = @hash AND purpose = 'confirm' AND used_at IS NULL AND expires_at > @now
                    RETURNING subscription_id
                ),
                confirmed AS (
                    UPDATE subscriptions sub SET status = 'confirmed', confirmed_at = @now, updated_at = @now
                    FROM spent
                    WHERE sub.id = spent.subscription_id AND sub.status = 'pending'
                    RETURNING sub.id, sub.list_id
                ),
                recorded AS (
                    INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at)
                    SELECT id, list_id, 'confirmed', @now FROM confirmed
                )
                SELECT l.slug, l.confirmed_url
                FROM confirmed JOIN lists l ON l.id = confirmed.list_id
                """, new { hash, now }, cancellationToken: cancellationToken));
        }

        if (confirmed is { } done)
        {
            metrics.Confirmed(done.Slug);
            return wantsJson
                ? TypedResults.Ok(new Confirmed("confirmed", done.Slug))
                : new SeeOtherHttpResult(done.ConfirmedUrl ?? $"/signup/confirmed?list={Uri.EscapeDataString(done.Slug)}");
        }

        // Nothing confirmed: say why. A token that still looks usable lost a race to a
        // concurrent POST, so it was used after all.
        var target = await LookupAsync(dataSource, token, cancellationToken);
        var refusal = Unusable(target, clock) ?? AlreadyUsed(target!);
        return wantsJson
            ? TypedResults.Problem(statusCode: refusal.StatusCode, title: target is null ? "Unknown link" : "Link no longer valid",
                detail: "Sign up again to receive a new confirmation mail.")
            : refusal;
    }

    static async Task<TokenTarget?> LookupAsync(NpgsqlDataSource dataSource, string token, CancellationToken cancellationToken)
    {
        if (Token.Hash(token) is not { } hash)
        {
            return null;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<TokenTarget>(new CommandDefinition(LookupSql, new { hash }, cancellationToken: cancellationToken));
    }

    /// <summary>The friendly refusal for a link that cannot confirm anything, or null if it can.</summary>
    static ContentHttpResult? Unusable(TokenTarget? target, TimeProvider clock)
    {
        if (target is null)
        {
            return HostedPage.Render("This link is not known",
                "<p>We could not find this confirmation link. Please sign up again from the newsletter form to receive a new one.</p>",
                StatusCodes.Status404NotFound);
        }

        if (target.Status == "confirmed" || target.UsedAt is not null)
        {
            return AlreadyUsed(target);
        }

        if (target.ExpiresAt <= clock.GetUtcNow().UtcDateTime || target.Status != "pending")
        {
            return HostedPage.Render("This link has expired", SignUpAgain(target), StatusCodes.Status410Gone);
        }

        return null;
    }

    static ContentHttpResult AlreadyUsed(TokenTarget target) => target.Status == "confirmed"
        ? HostedPage.Render("Already confirmed",
            $"<p>Your subscription to “{HostedPage.Encode(target.ListName)}” is confirmed. There is nothing more to do.</p>",
            StatusCodes.Status410Gone)
        : HostedPage.Render("This link was already used", SignUpAgain(target), StatusCodes.Status410Gone);

    static string SignUpAgain(TokenTarget target) => target.SignupPage is { } page
        ? $"""<p><a href="{HostedPage.Encode(page)}">Sign up again</a> to receive a new confirmation mail.</p>"""
        : "<p>Sign up again from the newsletter form to receive a new confirmation mail.</p>";

    static async Task<ContentHttpResult> ConfirmedPage(string? list, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var name = list is null ? null : await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "SELECT name FROM lists WHERE slug = @list", new { list }, cancellationToken: cancellationToken));
        return HostedPage.Render("You're subscribed",
            $"<p>Thank you: your subscription to {HostedPage.Encode(name is null ? "our newsletter" : $"“{name}”")} is confirmed.</p>");
    }
}
