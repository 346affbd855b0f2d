using System.Diagnostics;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using RazorSlices;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Outbox;
using Subscriptions.Api.Pages;
using Subscriptions.Api.Protection;

namespace Subscriptions.Api.Confirmation;

public static class ConfirmationEndpoints
{
    public static IEndpointRouteBuilder MapConfirmation(this IEndpointRouteBuilder app)
    {
        var confirm = app.MapGroup(PublicLinks.ConfirmPath).RequireRateLimiting(RateLimiting.Links).WithTags("Confirmation")
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesUnavailable()
            .ProducesPage(StatusCodes.Status503ServiceUnavailable)
            .OpensInBrowser();

        confirm.MapGet("/{token}", ShowConfirmPage)
            .WithName("ShowConfirmation")
            .WithSummary("The page a confirmation link opens: one Confirm button. Changes nothing, so mail scanners may prefetch it.")
            .ProducesPage(StatusCodes.Status200OK, StatusCodes.Status404NotFound, StatusCodes.Status410Gone)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status410Gone);

        confirm.MapPost("/{token}", Confirm)
            .WithName("Confirm")
            .WithSummary("Confirms the subscription: 303 to the list's confirmed page, or JSON when asked.")
            .Produces(StatusCodes.Status303SeeOther)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status410Gone)
            .ProducesPage(StatusCodes.Status404NotFound, StatusCodes.Status410Gone)
            .DisableAntiforgery();

        app.MapGet("/signup/confirmed", ConfirmedPage)
            .WithName("SignupConfirmed")
            .ExcludeFromDescription();

        return app;
    }

    sealed record TokenTarget(string ListSlug, string ListName, string Status, DateTime ExpiresAt, DateTime? UsedAt, string? SignupPage);

    public sealed record Confirmed(string Status, string List);

    const string LookupSql = """
        SELECT l.slug AS ListSlug, w.name AS ListName, sub.status AS Status,
               t.expires_at AS ExpiresAt, t.used_at AS UsedAt, sub.consent_source AS SignupPage
        FROM tokens t
        JOIN subscriptions sub ON sub.id = t.subscription_id
        JOIN lists l ON l.id = sub.list_id
        CROSS JOIN LATERAL list_wording(l.id, @language) w
        WHERE t.hash = @hash AND t.purpose = 'confirm'
        """;

    static async Task<Results<RazorSlice<OneButton>, ProblemHttpResult>> ShowConfirmPage(
        string token, string? lang, HttpRequest request, NpgsqlDataSource dataSource, TimeProvider clock, CancellationToken cancellationToken)
    {
        Languages.UseLinkLanguage(request, lang);
        var text = PageText.For(request);
        var target = await LookupAsync(dataSource, token, cancellationToken);
        if (Unusable(text, target, clock) is { } refusal)
        {
            return refusal;
        }

        return HostedPage.Show(new OneButton(text.ConfirmTitle,
            string.Format(text.ConfirmPrompt, text.Named(target!.ListName, text.OurNewsletter)), text.ConfirmButton));
    }

    static async Task<Results<SeeOtherHttpResult, Ok<Confirmed>, ProblemHttpResult>> Confirm(
        string token, string? lang, HttpRequest request, NpgsqlDataSource dataSource, OutboxSignal signal, SubscriptionsMetrics metrics,
        TimeProvider clock, CancellationToken cancellationToken)
    {
        var linkLanguage = Languages.UseLinkLanguage(request, lang);
        var hash = Token.Hash(token);
        var now = clock.GetUtcNow();
        (string Slug, string? ConfirmedUrl, DateTime SignedUpAt, string? UtmSource, bool Reminded, string? SignupTraceparent)? confirmed = null;
        if (hash is not null)
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);

            // One statement: the token is spent, the subscription confirmed, the ledger written
            // (and with it the webhook events) and the list's welcome mail queued together, or
            // nothing happens at all.
            confirmed = await connection.QuerySingleOrDefaultAsync<(string, string?, DateTime, string?, bool, string?)?>(new CommandDefinition("""
                WITH traced AS (
                    -- the request's trace context, for the welcome mail and the ledger trigger's webhook events (0018)
                    SELECT set_config('subscriptions.traceparent', coalesce(@traceparent, ''), true)
                ),
                spent AS (
                    UPDATE tokens SET used_at = @now
                    WHERE hash = @hash AND purpose = 'confirm' AND used_at IS NULL AND expires_at > @now
                    RETURNING subscription_id
                ),
                confirmed AS (
                    UPDATE subscriptions sub SET status = 'confirmed', confirmed_at = @now, updated_at = @now
                    FROM spent
                    WHERE sub.id = spent.subscription_id AND sub.status = 'pending'
                    RETURNING sub.id, sub.list_id, sub.consent_at, sub.utm_source, sub.reminded_at IS NOT NULL AS reminded
                ),
                recorded AS (
                    INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at)
                    SELECT id, list_id, 'confirmed', @now FROM confirmed, traced
                ),
                welcomed AS (
                    INSERT INTO outbox (subscription_id, kind, locale, created_at, due_at)
                    SELECT c.id, 'welcome',
                           coalesce((SELECT o.locale FROM outbox o WHERE o.subscription_id = c.id ORDER BY o.id DESC LIMIT 1), 'en'),
                           @now, @now
                    FROM confirmed c JOIN lists l ON l.id = c.list_id CROSS JOIN traced
                    WHERE l.welcome
                    ON CONFLICT (subscription_id, kind) WHERE sent_at IS NULL AND dead_at IS NULL DO NOTHING
                )
                SELECT l.slug, l.confirmed_url, confirmed.consent_at, confirmed.utm_source, confirmed.reminded,
                       -- the trace of the signup (or admin resend) that sent the confirmation mail, when traced
                       CASE WHEN @traceparent IS NOT NULL THEN
                           (SELECT o.traceparent FROM outbox o WHERE o.subscription_id = confirmed.id AND o.kind = 'confirmation'
                            ORDER BY o.id DESC LIMIT 1) END
                FROM confirmed JOIN lists l ON l.id = confirmed.list_id
                """, new { hash, now, traceparent = Tracing.CurrentTraceparent }, cancellationToken: cancellationToken));
        }

        if (confirmed is { } done)
        {
            // Days may pass between signup and click: a new trace, linked to the signup's rather than
            // made its child, so that neither trace lasts for days and an operator can go from one to the other.
            if (Tracing.Parse(done.SignupTraceparent) is { } signup)
            {
                Activity.Current?.AddLink(new ActivityLink(signup));
            }

            metrics.Confirmed(done.Slug, done.UtmSource, new DateTimeOffset(DateTime.SpecifyKind(done.SignedUpAt, DateTimeKind.Utc)), now, done.Reminded);
            signal.Raise();
            return BrowserOrScript.WantsPage(request.HttpContext)
                ? new SeeOtherHttpResult(done.ConfirmedUrl ?? $"/signup/confirmed?list={Uri.EscapeDataString(done.Slug)}{(linkLanguage is null ? "" : $"&lang={linkLanguage}")}")
                : TypedResults.Ok(new Confirmed("confirmed", done.Slug));
        }

        // Nothing confirmed: say why. A token that still looks usable lost a race to a
        // concurrent POST, so it was used after all.
        var text = PageText.For(request);
        var target = await LookupAsync(dataSource, token, cancellationToken);
        return Unusable(text, target, clock) ?? AlreadyUsed(text, target!);
    }

    static async Task<TokenTarget?> LookupAsync(NpgsqlDataSource dataSource, string token, CancellationToken cancellationToken)
    {
        if (Token.Hash(token) is not { } hash)
        {
            return null;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<TokenTarget>(new CommandDefinition(LookupSql, new { hash, language = Languages.Current }, cancellationToken: cancellationToken));
    }

    /// <summary>The refusal of a link that cannot confirm anything (a page for a browser), or null if it can.</summary>
    static ProblemHttpResult? Unusable(PageText text, TokenTarget? target, TimeProvider clock)
    {
        if (target is null)
        {
            return ReaderProblem.Result(StatusCodes.Status404NotFound, text.UnknownLinkTitle, text.UnknownConfirmLink);
        }

        if (target.Status == "confirmed" || target.UsedAt is not null)
        {
            return AlreadyUsed(text, target);
        }

        if (target.ExpiresAt <= clock.GetUtcNow().UtcDateTime || target.Status != "pending")
        {
            return SignUpAgain(text, text.ExpiredTitle, target);
        }

        return null;
    }

    static ProblemHttpResult AlreadyUsed(PageText text, TokenTarget target) => target.Status == "confirmed"
        ? ReaderProblem.Result(StatusCodes.Status410Gone, text.AlreadyConfirmedTitle,
            string.Format(text.AlreadyConfirmed, text.Named(target.ListName, text.OurNewsletter)))
        : SignUpAgain(text, text.UsedTitle, target);

    static ProblemHttpResult SignUpAgain(PageText text, string title, TokenTarget target) =>
        ReaderProblem.Result(StatusCodes.Status410Gone, title, text.SignUpAgainFromForm,
            target.SignupPage is { } page ? new PageLink(page, text.SignUpAgainLink, text.SignUpAgainAfterLink) : null);

    static Task<RazorSlice<Message>> ConfirmedPage(
        string? list, string? lang, HttpRequest request, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        Languages.UseLinkLanguage(request, lang);
        return HostedPage.ForListAsync(request, dataSource, list, text => (text.ConfirmedTitle, text.Confirmed), cancellationToken);
    }
}
