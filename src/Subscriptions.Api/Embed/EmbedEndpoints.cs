using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Pages;
using Subscriptions.Api.Protection;
using Subscriptions.Api.Signup;

namespace Subscriptions.Api.Embed;

/// <summary>
/// What a news site embeds: a ready signup form page it can frame (its list's allowed origins
/// may), and the small script that turns any signup form into an inline one.
/// </summary>
public static class EmbedEndpoints
{
    static readonly Lazy<byte[]> Script = new(() =>
    {
        using var stream = typeof(EmbedEndpoints).Assembly.GetManifestResourceStream("Subscriptions.Api.Embed.subscribe.js")!;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    static readonly string StyleHash = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(HostedPage.Style)));

    public static IEndpointRouteBuilder MapEmbed(this IEndpointRouteBuilder app)
    {
        var embed = app.MapGroup("/embed").WithTags("Embed");

        embed.MapGet("/subscribe.js", (HttpResponse response) =>
            {
                response.Headers.CacheControl = "public, max-age=3600";
                return TypedResults.Bytes(Script.Value, "text/javascript; charset=utf-8");
            })
            .WithName("EmbedScript")
            .WithSummary("The optional script for signup forms on news sites: inline success and errors via fetch and CORS.")
            .Produces<string>(StatusCodes.Status200OK, "text/javascript");

        embed.MapGet("/form", Form)
            .WithName("EmbedForm")
            .WithSummary("A ready signup form page for a list, which the list's allowed origins may frame.")
            .ProducesPage(StatusCodes.Status200OK, StatusCodes.Status503ServiceUnavailable)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesUnavailable();

        return app;
    }

    // Properties, not a positional record: Npgsql declares text[] as System.Array, which Dapper's
    // constructor matching does not take for string[].
    sealed record EmbeddedList
    {
        public required string Slug { get; init; }
        public required string Name { get; init; }
        public required string ConsentText { get; init; }
        public string[] AllowedOrigins { get; init; } = [];
    }

    static async Task<Results<ContentHttpResult, NotFound>> Form(
        string? list, HttpRequest request, HttpResponse response, NpgsqlDataSource dataSource, SignupLists lists,
        IOptions<SignupProtectionOptions> protection, CancellationToken cancellationToken)
    {
        // a value that cannot be a slug is no list (and PostgreSQL refuses a NUL in text)
        if (list is not null && !SignupValidator.IsListSlug(list))
        {
            return TypedResults.NotFound();
        }

        // The form speaks the language the signup it posts will choose (the browser's, else the
        // list's default, from the signup's own copy of the lists), so the consent text it shows
        // is the one the signup's evidence names.
        var slug = list ?? SignupEndpoints.DefaultList;
        var listDefault = (await lists.FindAsync([slug], cancellationToken)).FirstOrDefault()?.DefaultLocale;
        var language = Languages.Choose(null, request.GetTypedHeaders().AcceptLanguage, listDefault);
        Languages.Use(language);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var target = await connection.QuerySingleOrDefaultAsync<EmbeddedList>(new CommandDefinition("""
            SELECT l.slug AS Slug, w.name AS Name, w.consent_text AS ConsentText, l.allowed_origins AS AllowedOrigins
            FROM lists l CROSS JOIN LATERAL list_wording(l.id, @language) w
            WHERE l.slug = @slug
            """, new { slug, language }, cancellationToken: cancellationToken));
        if (target is null)
        {
            return TypedResults.NotFound();
        }

        var frameAncestors = target.AllowedOrigins.Length == 0 ? "'none'" : string.Join(' ', target.AllowedOrigins);
        response.Headers.ContentSecurityPolicy =
            $"default-src 'none'; style-src 'sha256-{StyleHash}'; script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors {frameAncestors}";

        var honeypot = HostedPage.Encode(protection.Value.HoneypotField);
        var text = PageText.For(request);
        return HostedPage.Render(text, string.Format(text.SignUpTitle, target.Name), $"""
            <form method="post" action="/api/subscriptions" data-subscriptions-form data-honeypot="{honeypot}">
            <input type="hidden" name="list" value="{HostedPage.Encode(target.Slug)}">
            <p><label for="email">{HostedPage.Encode(text.EmailLabel)}</label><br>
            <input id="email" name="email" type="email" autocomplete="email" required></p>
            <p><input id="consent" name="consent" type="checkbox" value="on" required>
            <label for="consent">{HostedPage.Encode(target.ConsentText)}</label></p>
            <div class="hp" aria-hidden="true"><label for="{honeypot}">Leave this field empty</label>
            <input id="{honeypot}" name="{honeypot}" tabindex="-1" autocomplete="off"></div>
            <p><button type="submit">{HostedPage.Encode(text.SignUpButton)}</button></p>
            <p data-subscriptions-message role="status" aria-live="polite"></p>
            </form>
            <script src="/embed/subscribe.js" defer></script>
            """);
    }
}
