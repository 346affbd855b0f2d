using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using RazorSlices;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Outbox;
using Subscriptions.Api.Pages;
using Subscriptions.Api.Protection;

namespace Subscriptions.Api.Unsubscribe;

public static class UnsubscribeEndpoints
{
    public static IEndpointRouteBuilder MapUnsubscribe(this IEndpointRouteBuilder app)
    {
        var unsubscribe = app.MapGroup(UnsubscribeLinks.Path).RequireRateLimiting(RateLimiting.Links).WithTags("Unsubscribe")
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesUnavailable()
            .ProducesPage(StatusCodes.Status503ServiceUnavailable)
            .OpensInBrowser();

        unsubscribe.MapGet("/{token}", ShowUnsubscribePage)
            .WithName("ShowUnsubscribe")
            .WithSummary("A page with one Unsubscribe button; changes nothing.")
            .ProducesPage(StatusCodes.Status200OK, StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status404NotFound);

        // Also the RFC 8058 one-click target: mail clients POST "List-Unsubscribe=One-Click".
        unsubscribe.MapPost("/{token}", Unsubscribe)
            .WithName("Unsubscribe")
            .WithSummary("Unsubscribes (the page's button, or an RFC 8058 one-click POST). The same answer every time.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesPage(StatusCodes.Status200OK, StatusCodes.Status404NotFound)
            .DisableAntiforgery();

        return app;
    }

    public sealed record Unsubscribed(string Status);

    static async Task<Results<RazorSlice<OneButton>, ProblemHttpResult>> ShowUnsubscribePage(
        string token, HttpRequest request, UnsubscribeLinks links, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var text = PageText.For(request);
        if (await links.VerifyAsync(token, cancellationToken) is not { } subscriptionId)
        {
            return UnknownLink(text);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var listName = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition("""
            SELECT w.name FROM subscriptions sub CROSS JOIN LATERAL list_wording(sub.list_id, @language) w WHERE sub.id = @subscriptionId
            """, new { subscriptionId, language = Languages.Current }, cancellationToken: cancellationToken));
        return HostedPage.Show(new OneButton(text.UnsubscribeTitle,
            string.Format(text.UnsubscribePrompt, text.Named(listName, text.ThisNewsletter)), text.UnsubscribeButton));
    }

    /// <remarks>
    /// Idempotent: an unsubscribed, or erased, subscription gets the same answer as an active one.
    /// Unsent confirmation mail is cancelled and unused confirmation links stop working, so
    /// coming back takes a new signup and a new double opt-in.
    /// </remarks>
    static async Task<Results<RazorSlice<Message>, Ok<Unsubscribed>, ProblemHttpResult>> Unsubscribe(
        string token, HttpRequest request, UnsubscribeLinks links, NpgsqlDataSource dataSource, OutboxSignal signal,
        SubscriptionsMetrics metrics, TimeProvider clock, CancellationToken cancellationToken)
    {
        var text = PageText.For(request);
        if (await links.VerifyAsync(token, cancellationToken) is not { } subscriptionId)
        {
            return UnknownLink(text);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var changed = await connection.ExecuteAsync(new CommandDefinition("""
            WITH traced AS (
                SELECT set_config('subscriptions.traceparent', coalesce(@traceparent, ''), true) -- for the ledger trigger's webhook events (0018)
            ),
            changed AS (
                UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = @now, updated_at = @now
                WHERE id = @subscriptionId AND status <> 'unsubscribed'
                RETURNING id, list_id
            ),
            spent AS (
                UPDATE tokens SET used_at = @now
                WHERE subscription_id IN (SELECT id FROM changed) AND used_at IS NULL
            ),
            cancelled AS (
                UPDATE outbox SET dead_at = @now, last_error = 'not sent: unsubscribed'
                WHERE subscription_id IN (SELECT id FROM changed) AND sent_at IS NULL AND dead_at IS NULL
            )
            INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at)
            SELECT id, list_id, 'unsubscribed', @now FROM changed, traced
            """, new { subscriptionId, now = clock.GetUtcNow(), traceparent = Tracing.CurrentTraceparent }, cancellationToken: cancellationToken));
        if (changed > 0)
        {
            metrics.Unsubscribed();
            signal.Raise(OutboxLane.Webhooks);
        }

        return BrowserOrScript.WantsPage(request.HttpContext)
            ? HostedPage.Show(new Message(text.UnsubscribedTitle, text.Unsubscribed))
            : TypedResults.Ok(new Unsubscribed("unsubscribed"));
    }

    static ProblemHttpResult UnknownLink(PageText text) =>
        ReaderProblem.Result(StatusCodes.Status404NotFound, text.UnknownLinkTitle, text.UnknownUnsubscribeLink);
}
