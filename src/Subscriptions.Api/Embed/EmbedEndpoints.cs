using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Localization;
using Microsoft.Extensions.Options;
using Npgsql;
using RazorSlices;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Kernel;
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
    static readonly Lazy<string> ScriptSource = new(() =>
    {
        using var stream = typeof(EmbedEndpoints).Assembly.GetManifestResourceStream("Subscriptions.Api.Embed.subscribe.js")!;
        return new StreamReader(stream, Encoding.UTF8).ReadToEnd();
    });

    // One script per language, written on first use: the source with its messages in that language.
    static readonly ConcurrentDictionary<string, byte[]> Scripts = new(StringComparer.Ordinal);

    public static IEndpointRouteBuilder MapEmbed(this IEndpointRouteBuilder app)
    {
        var embed = app.MapGroup("/embed").WithTags("Embed");

        embed.MapGet("/subscribe.js", Script)
            .WithName("EmbedScript")
            .WithSummary("The optional script for signup forms on news sites: inline success and errors via fetch and CORS.")
            .WithDescription("Its messages are in the language `lang` names (e.g. `?lang=de`, as the hosted form asks), else the browser's Accept-Language, else English.")
            .Produces<string>(StatusCodes.Status200OK, "text/javascript");

        embed.MapGet("/form", Form)
            .WithName("EmbedForm")
            .WithSummary("A ready signup form page for a list, which the list's allowed origins may frame.")
            .ProducesPage(StatusCodes.Status200OK, StatusCodes.Status503ServiceUnavailable)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesUnavailable();

        return app;
    }

    static FileContentHttpResult Script(string? lang, HttpRequest request, HttpResponse response, IStringLocalizer<Texts> texts)
    {
        var language = Languages.Choose(lang, request.GetTypedHeaders().AcceptLanguage, null);
        Languages.Use(language);
        var script = Scripts.GetOrAdd(language, _ => Encoding.UTF8.GetBytes(ScriptSource.Value.Replace("__SUBSCRIPTIONS_MESSAGES__", JsonSerializer.Serialize(
            new Dictionary<string, string>
            {
                ["accepted"] = texts["SignupAccepted"],
                ["checkForm"] = texts["FormErrorsTitle"],
                ["tooMany"] = texts["Error429"],
                ["failed"] = texts["ScriptFailed"],
                ["didYouMean"] = texts["DidYouMean"],
            }), StringComparison.Ordinal)));
        response.Headers.CacheControl = "public, max-age=3600";
        response.Headers.Vary = "Accept-Language";
        return TypedResults.Bytes(script, "text/javascript; charset=utf-8");
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
        string? list, HttpRequest request, HttpResponse response, NpgsqlDataSource dataSource, SignupLists lists,
        IOptions<SignupProtectionOptions> protection, CancellationToken cancellationToken)
    {
        // a value that cannot be a slug is no list (and PostgreSQL refuses a NUL in text)
        if (list is not null && !InputRules.IsListSlug(list))
        {
            return TypedResults.NotFound();
        }

        // The form speaks the language the signup it posts will choose (the browser's, else the
        // list's default, from the signup's own copy of the lists), so the consent text it shows
        // is the one the signup's evidence names.
        var slug = list ?? InputRules.DefaultList;
        var listDefault = (await lists.FindAsync([slug], cancellationToken)).FirstOrDefault()?.DefaultLocale;
        var language = Languages.Choose(null, request.GetTypedHeaders().AcceptLanguage, listDefault);
        Languages.Use(request.HttpContext, language);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var target = await connection.QuerySingleOrDefaultAsync<EmbeddedList>(new CommandDefinition("""
            SELECT l.slug AS Slug, w.name AS Name, w.consent_text AS ConsentText, l.allowed_origins AS AllowedOrigins
            FROM lists l CROSS JOIN LATERAL list_wording(l.id, @language) w
            WHERE l.slug = @slug AND l.archived_at IS NULL
            """, new { slug, language }, cancellationToken: cancellationToken));
        if (target is null)
        {
            return TypedResults.NotFound();
        }

        var frameAncestors = target.AllowedOrigins.Length == 0 ? "'none'" : string.Join(' ', target.AllowedOrigins);
        response.Headers.ContentSecurityPolicy =
            $"default-src 'none'; style-src {PageStyle.CspSource}; script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors {frameAncestors}";

        // a campaign's utm_* in the frame's src go on with the signup; values the signup would refuse are left out
        KeyValuePair<string, string>[] attribution = [.. new[] { Attribution.SourceField, Attribution.MediumField, Attribution.CampaignField }
            .Where(name => request.Query[name].Count == 1 && Attribution.IsValid(request.Query[name].ToString()))
            .Select(name => KeyValuePair.Create(name, request.Query[name].ToString().Trim()))];
        return TypedResults.RazorSlice<EmbedFormPage, EmbedForm>(
            EmbedForm.For(PageText.For(request), target.Slug, target.Name, target.ConsentText, protection.Value.HoneypotField, attribution));
    }
}
