using System.Net;
using Dapper;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Subscriptions.Api.Pages;

namespace Subscriptions.Api.Signup;

public static class SignupEndpoints
{
    public const string DefaultList = "news";
    const int MaxUserAgentLength = 512;

    public static IServiceCollection AddSignup(this IServiceCollection services) =>
        services.AddSingleton<IValidator<SignupInput>, SignupValidator>();

    public static IEndpointRouteBuilder MapSignup(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/subscriptions", Subscribe)
            .WithName("Subscribe")
            .WithSummary("Sign an address up to one or more lists (double opt-in: it stays pending until confirmed).")
            .Accepts<SignupInput>("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
            .DisableAntiforgery();

        app.MapGet("/signup/thank-you", ThankYou)
            .WithName("SignupThankYou")
            .WithSummary("The hosted page a form post lands on when its list has no thank-you URL of its own.")
            .ExcludeFromDescription();

        return app;
    }

    public sealed record SignupAccepted(string Status, string Message);

    static readonly SignupAccepted Accepted = new("accepted", "Thank you. Check your inbox for a mail to confirm your subscription.");

    public record struct SignupServices(
        NpgsqlDataSource DataSource,
        IValidator<SignupInput> Validator,
        TimeProvider Clock,
        CancellationToken CancellationToken);

    sealed record ListTarget(string Slug, string Name, string? ThankYouUrl);

    /// <remarks>
    /// The answer is the same whether the address is new, pending or already confirmed, so the
    /// endpoint cannot be used to find out who is subscribed.
    /// </remarks>
    static async Task<Results<Accepted<SignupAccepted>, SeeOtherHttpResult, ValidationProblem, ContentHttpResult, ProblemHttpResult>> Subscribe(
        HttpContext http, [AsParameters] SignupServices services)
    {
        var body = await SignupBody.ReadAsync(http.Request, services.CancellationToken);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var input = body.Input!;
        var isForm = http.Request.HasFormContentType;
        var errors = (await services.Validator.ValidateAsync(input, services.CancellationToken)).ToDictionary();
        foreach (var (field, messages) in body.ShapeErrors)
        {
            errors[field] = messages;
        }

        var slugs = input.Lists.Count == 0 ? [DefaultList] : input.Lists.Distinct(StringComparer.Ordinal).ToArray();
        await using var connection = await services.DataSource.OpenConnectionAsync(services.CancellationToken);
        var lists = (await connection.QueryAsync<ListTarget>(new CommandDefinition("""
            SELECT slug AS Slug, name AS Name, thank_you_url AS ThankYouUrl
            FROM lists
            WHERE slug = ANY(@slugs)
            """, new { slugs }, cancellationToken: services.CancellationToken))).ToList();
        var unknown = slugs.Except(lists.Select(l => l.Slug)).ToList();
        if (unknown.Count > 0 && !errors.ContainsKey("lists"))
        {
            errors["lists"] = [$"There is no list named {string.Join(", ", unknown)}."];
        }

        if (errors.Count > 0)
        {
            return isForm ? FormErrorsPage(errors) : TypedResults.ValidationProblem(errors);
        }

        EmailAddress.TryNormalize(input.Email, out var email);
        var source = input.Source ?? (http.Request.Headers.Referer.ToString() is { } referer && SignupValidator.IsWebAddress(referer) ? referer : null);
        var userAgent = http.Request.Headers.UserAgent.ToString();

        // One statement, so one transaction: the subscriber, a pending subscription per list with
        // the consent evidence, and a ledger event. A confirmed subscription stays confirmed and
        // keeps the evidence it was confirmed with; its subscriber's details stay as they were.
        await connection.ExecuteAsync(new CommandDefinition("""
            WITH known AS (
                SELECT EXISTS (
                    SELECT 1 FROM subscriptions c JOIN subscribers cs ON cs.id = c.subscriber_id
                    WHERE cs.email = @email AND c.status = 'confirmed') AS confirmed
            ),
            subscriber AS (
                INSERT INTO subscribers AS s (email, email_as_typed, name, locale, created_at, updated_at)
                VALUES (@email, @emailAsTyped, @name, @locale, @now, @now)
                ON CONFLICT (email) DO UPDATE SET
                    email_as_typed = CASE WHEN (SELECT confirmed FROM known) THEN s.email_as_typed ELSE EXCLUDED.email_as_typed END,
                    name = CASE WHEN (SELECT confirmed FROM known) THEN s.name ELSE EXCLUDED.name END,
                    locale = CASE WHEN (SELECT confirmed FROM known) THEN s.locale ELSE EXCLUDED.locale END,
                    updated_at = EXCLUDED.updated_at
                RETURNING s.id
            ),
            subscription AS (
                INSERT INTO subscriptions AS sub (subscriber_id, list_id, status, created_at, updated_at,
                    consent_at, consent_ip, consent_user_agent, consent_source, consent_text_version)
                SELECT subscriber.id, l.id, 'pending', @now, @now, @now, @ip::inet, @userAgent, @source, l.consent_text_version
                FROM subscriber CROSS JOIN lists l
                WHERE l.slug = ANY(@slugs)
                ON CONFLICT (subscriber_id, list_id) DO UPDATE SET
                    status = CASE WHEN sub.status = 'confirmed' THEN sub.status ELSE 'pending' END,
                    confirmed_at = CASE WHEN sub.status = 'confirmed' THEN sub.confirmed_at END,
                    unsubscribed_at = CASE WHEN sub.status = 'confirmed' THEN sub.unsubscribed_at END,
                    consent_at = CASE WHEN sub.status = 'confirmed' THEN sub.consent_at ELSE EXCLUDED.consent_at END,
                    consent_ip = CASE WHEN sub.status = 'confirmed' THEN sub.consent_ip ELSE EXCLUDED.consent_ip END,
                    consent_user_agent = CASE WHEN sub.status = 'confirmed' THEN sub.consent_user_agent ELSE EXCLUDED.consent_user_agent END,
                    consent_source = CASE WHEN sub.status = 'confirmed' THEN sub.consent_source ELSE EXCLUDED.consent_source END,
                    consent_text_version = CASE WHEN sub.status = 'confirmed' THEN sub.consent_text_version ELSE EXCLUDED.consent_text_version END,
                    updated_at = EXCLUDED.updated_at
                RETURNING sub.id, sub.list_id
            )
            INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at, ip, user_agent, source, consent_text_version)
            SELECT subscription.id, subscription.list_id, 'signup', @now, @ip::inet, @userAgent, @source, l.consent_text_version
            FROM subscription JOIN lists l ON l.id = subscription.list_id
            """, new
        {
            email,
            emailAsTyped = input.Email!.Trim(),
            name = string.IsNullOrWhiteSpace(input.Name) ? null : input.Name.Trim(),
            locale = input.Locale is null ? null : SignupValidator.CanonicalLocale(input.Locale),
            now = services.Clock.GetUtcNow(),
            ip = ClientAddress(http)?.ToString(), // Dapper has no IPAddress mapping; PostgreSQL casts text to inet
            userAgent = userAgent.Length == 0 ? null : userAgent[..Math.Min(userAgent.Length, MaxUserAgentLength)],
            source,
            slugs,
        }, cancellationToken: services.CancellationToken));

        if (!isForm)
        {
            return TypedResults.Accepted((string?)null, Accepted);
        }

        var first = lists.First(l => l.Slug == slugs[0]);
        return new SeeOtherHttpResult(first.ThankYouUrl ?? $"/signup/thank-you?list={Uri.EscapeDataString(first.Slug)}");
    }

    // RemoteIpAddress already went through the forwarded-headers middleware, which believes
    // X-Forwarded-For only from the configured trusted proxies.
    static IPAddress? ClientAddress(HttpContext http) =>
        http.Connection.RemoteIpAddress is { IsIPv4MappedToIPv6: true } mapped ? mapped.MapToIPv4() : http.Connection.RemoteIpAddress;

    static ContentHttpResult FormErrorsPage(IDictionary<string, string[]> errors)
    {
        var items = string.Concat(errors.SelectMany(e => e.Value).Select(m => $"<li>{HostedPage.Encode(m)}</li>"));
        return HostedPage.Render("Please check the form",
            $"""<p>Your signup was not saved:</p><ul class="errors">{items}</ul><p>Go back, correct the form and send it again.</p>""",
            StatusCodes.Status400BadRequest);
    }

    static async Task<ContentHttpResult> ThankYou(string? list, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var name = list is null ? null : await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "SELECT name FROM lists WHERE slug = @list", new { list }, cancellationToken: cancellationToken));
        var what = name is null ? "our newsletter" : $"“{name}”";
        return HostedPage.Render("Check your inbox",
            $"<p>Thank you for signing up to {HostedPage.Encode(what)}. We sent you a mail: open it and press Confirm to start receiving it.</p>");
    }
}
