using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;
using RazorSlices;
using Subscriptions.Api.Hosting;
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

    static async Task<Results<RazorSlice<EmbedForm>, NotFound>> Form(
        string? list, HttpRequest request, HttpResponse response, NpgsqlDataSource dataSource, IOptions<SignupProtectionOptions> protection,
        CancellationToken cancellationToken)
    {
        // a value that cannot be a slug is no list (and PostgreSQL refuses a NUL in text)
        if (list is not null && !SignupValidator.IsListSlug(list))
        {
            return TypedResults.NotFound();
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var target = await connection.QuerySingleOrDefaultAsync<EmbeddedList>(new CommandDefinition("""
            SELECT slug AS Slug, name AS Name, consent_text AS ConsentText, allowed_origins AS AllowedOrigins
            FROM lists WHERE slug = @slug
            """, new { slug = list ?? "news" }, cancellationToken: cancellationToken));
        if (target is null)
        {
            return TypedResults.NotFound();
        }

        var frameAncestors = target.AllowedOrigins.Length == 0 ? "'none'" : string.Join(' ', target.AllowedOrigins);
        response.Headers.ContentSecurityPolicy =
            $"default-src 'none'; style-src {PageStyle.CspSource}; script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors {frameAncestors}";

        return HostedPage.Show(new EmbedForm(PageText.For(request), target.Slug, target.Name, target.ConsentText, protection.Value.HoneypotField));
    }
}
