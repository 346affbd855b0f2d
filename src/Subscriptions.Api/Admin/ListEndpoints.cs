using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Dapper;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Subscriptions.Api.Kernel;
using Subscriptions.Api.Signup;

namespace Subscriptions.Api.Admin;

public static class ListEndpoints
{
    // Properties rather than a positional record: Dapper matches constructors by the column's
    // declared type, and Npgsql declares text[] as System.Array.
    public sealed record ListDetails
    {
        public required string Slug { get; init; }
        public required string Name { get; init; }
        public string? SenderName { get; init; }
        public string? SenderEmail { get; init; }
        public string? ThankYouUrl { get; init; }
        public string? ConfirmedUrl { get; init; }
        public string? ErrorUrl { get; init; }
        public string[] AllowedOrigins { get; init; } = [];
        public required string ConsentText { get; init; }
        public required string ConsentTextVersion { get; init; }
        public required string DefaultLocale { get; init; }
        public bool Welcome { get; init; }
        public bool Hidden { get; init; }
        public DateTime? ArchivedAt { get; init; }

        public IReadOnlyDictionary<string, ListTranslation> Translations { get; init; } = ListTranslations.None;
    }

    /// <summary>
    /// What an editor sends to create (slug required) or replace (slug from the route) a list.
    /// Properties, so that the document marks only what is required as required; a missing or
    /// null one still reaches the validator, which names it.
    /// </summary>
    public sealed record ListInput
    {
        [Description("1-63 lower-case letters, digits and hyphens. Required to create a list; on PUT the route names the list.")]
        public string? Slug { get; init; }

        [Required]
        public string Name { get; init; } = "";

        public string? SenderName { get; init; }

        public string? SenderEmail { get; init; }

        [Description("Where a form post goes after a signup; the service's own page when empty.")]
        public string? ThankYouUrl { get; init; }

        [Description("Where a confirmed reader goes; the service's own page when empty.")]
        public string? ConfirmedUrl { get; init; }

        public string? ErrorUrl { get; init; }

        [Description("Sites (scheme://host[:port]) whose pages may post the form with JavaScript and frame the embedded form.")]
        public string[]? AllowedOrigins { get; init; }

        [Required]
        public string ConsentText { get; init; } = "";

        [Required, Description("A new version for every new consent text: the evidence of each signup names the version it agreed to.")]
        public string ConsentTextVersion { get; init; } = "";

        [Description("BCP 47 tag of the mails' language when the reader gives none; en when not given.")]
        public string? DefaultLocale { get; init; }

        [Description("Send a welcome mail when a subscription is confirmed; false when not given.")]
        public bool? Welcome { get; init; }

        [Description("Keep the list off the readers' preference centre (its subscribers still see their own subscription to it); false when not given.")]
        public bool? Hidden { get; init; }

        [Description("""
            The list's name and consent text in other languages the service speaks, keyed by language (de, fr...);
            name and consentText are the wording in the defaultLocale's language. Readers see the translation
            into their language, else the default; the consentTextVersion covers every translation.
            """)]
        public Dictionary<string, ListTranslation?>? Translations { get; init; }
    }

    public static RouteGroupBuilder MapListAdministration(this RouteGroupBuilder admin)
    {
        var lists = admin.MapGroup("/lists");
        lists.MapGet("/", GetLists).WithName("GetLists").WithSummary("All lists.");
        lists.MapGet("/{slug}", GetList).WithName("GetList").WithSummary("One list.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        lists.MapPost("/", CreateList).WithName("CreateList").WithSummary("Creates a list; 409 if the slug is taken.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        lists.MapPut("/{slug}", UpdateList).WithName("UpdateList").WithSummary("Replaces a list's settings; its slug stays.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        lists.MapPatch("/{slug}", ListChanges.PatchList).WithName("PatchList")
            .WithSummary("Changes the settings given (a JSON merge patch, RFC 7396); the others stay. The rules of PUT apply to the result.")
            .Accepts<ListInput>("application/json", "application/merge-patch+json")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        lists.MapDelete("/{slug}", ListChanges.ArchiveList).WithName("ArchiveList")
            .WithSummary("Archives a list: no new signups; its subscriptions stay, and stay exportable. The default list cannot be archived.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return admin;
    }

    internal const string Columns = """
        slug AS Slug, name AS Name, sender_name AS SenderName, sender_email AS SenderEmail,
        thank_you_url AS ThankYouUrl, confirmed_url AS ConfirmedUrl, error_url AS ErrorUrl,
        allowed_origins AS AllowedOrigins, consent_text AS ConsentText,
        consent_text_version AS ConsentTextVersion, default_locale AS DefaultLocale, welcome AS Welcome,
        hidden AS Hidden, archived_at AS ArchivedAt
        """;

    static async Task<Ok<List<ListDetails>>> GetLists(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var lists = await connection.QueryAsync<ListDetails>(new CommandDefinition(
            $"SELECT {Columns} FROM lists ORDER BY slug", cancellationToken: cancellationToken));
        var translations = await ListTranslations.ReadAsync(connection, slug: null, cancellationToken);
        return TypedResults.Ok(lists.Select(l => l with { Translations = translations.GetValueOrDefault(l.Slug, ListTranslations.None) }).ToList());
    }

    static async Task<Results<Ok<ListDetails>, NotFound>> GetList(string slug, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var list = await connection.QuerySingleOrDefaultAsync<ListDetails>(new CommandDefinition(
            $"SELECT {Columns} FROM lists WHERE slug = @slug", new { slug }, cancellationToken: cancellationToken));
        if (list is null)
        {
            return TypedResults.NotFound();
        }

        var translations = await ListTranslations.ReadAsync(connection, slug, cancellationToken);
        return TypedResults.Ok(list with { Translations = translations.GetValueOrDefault(slug, ListTranslations.None) });
    }

    static async Task<Results<Created<ListDetails>, ValidationProblem, ProblemHttpResult>> CreateList(
        ListInput input, ListInputValidator validator, NpgsqlDataSource dataSource, SignupLists signupLists, CancellationToken cancellationToken)
    {
        var validation = await validator.ValidateAsync(input, o => o.IncludeRuleSets("default", ListInputValidator.Creating), cancellationToken);
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.ToDictionary());
        }

        var translations = ListTranslations.Normalized(input.Translations);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var created = await connection.QuerySingleOrDefaultAsync<ListDetails>(new CommandDefinition($"""
            INSERT INTO lists (slug, name, sender_name, sender_email, thank_you_url, confirmed_url, error_url,
                               allowed_origins, consent_text, consent_text_version, default_locale, welcome, hidden)
            VALUES (@Slug, @Name, @SenderName, @SenderEmail, @ThankYouUrl, @ConfirmedUrl, @ErrorUrl,
                    @AllowedOrigins, @ConsentText, @ConsentTextVersion, @DefaultLocale, @Welcome, @Hidden)
            ON CONFLICT (slug) DO NOTHING
            RETURNING {Columns}
            """, Normalized(input), transaction, cancellationToken: cancellationToken));
        if (created is null)
        {
            return TypedResults.Problem($"A list named {input.Slug} exists already.", statusCode: StatusCodes.Status409Conflict, title: "List exists");
        }

        await ListTranslations.ReplaceAsync(connection, transaction, created.Slug, translations, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        signupLists.Invalidate();
        return TypedResults.Created($"/api/admin/lists/{created.Slug}", created with { Translations = translations });
    }

    internal static async Task<Results<Ok<ListDetails>, NotFound, ValidationProblem, ProblemHttpResult>> UpdateList(
        string slug, ListInput input, ListInputValidator validator, NpgsqlDataSource dataSource, SignupLists signupLists,
        CancellationToken cancellationToken)
    {
        var validation = await validator.ValidateAsync(input with { Slug = slug }, cancellationToken);
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.ToDictionary());
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var current = await connection.QuerySingleOrDefaultAsync<(string Text, string Version, string Locale)?>(new CommandDefinition(
            "SELECT consent_text, consent_text_version, default_locale FROM lists WHERE slug = @slug FOR UPDATE",
            new { slug }, transaction, cancellationToken: cancellationToken));
        if (current is not { } consent)
        {
            return TypedResults.NotFound();
        }

        // Consent evidence points at a text version and the language of its text: under one
        // version, a language's text may not change (nor go, lest it come back different).
        var translations = ListTranslations.Normalized(input.Translations);
        if (consent.Version == input.ConsentTextVersion!.Trim())
        {
            var stored = (await ListTranslations.ReadAsync(connection, slug, cancellationToken, transaction)).GetValueOrDefault(slug, ListTranslations.None);
            var changed = ListTranslations.ConsentTextsChanged(
                ListTranslations.ConsentTexts(consent.Locale, consent.Text, stored),
                ListTranslations.ConsentTexts(DefaultLocale(input), input.ConsentText, translations));
            if (changed.Count > 0)
            {
                return TypedResults.Problem(
                    $"The consent text in {string.Join(", ", changed)} changed or was removed under an unchanged version: give the new wording a new consentTextVersion.",
                    statusCode: StatusCodes.Status409Conflict, title: "Consent text version unchanged");
            }
        }

        var updated = await connection.QuerySingleAsync<ListDetails>(new CommandDefinition($"""
            UPDATE lists SET name = @Name, sender_name = @SenderName, sender_email = @SenderEmail,
                thank_you_url = @ThankYouUrl, confirmed_url = @ConfirmedUrl, error_url = @ErrorUrl,
                allowed_origins = @AllowedOrigins, consent_text = @ConsentText,
                consent_text_version = @ConsentTextVersion, default_locale = @DefaultLocale, welcome = @Welcome, hidden = @Hidden,
                updated_at = now()
            WHERE slug = @Slug
            RETURNING {Columns}
            """, Normalized(input with { Slug = slug }), transaction, cancellationToken: cancellationToken));
        await ListTranslations.ReplaceAsync(connection, transaction, slug, translations, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        signupLists.Invalidate();
        return TypedResults.Ok(updated with { Translations = translations });
    }

    static object Normalized(ListInput input) => new
    {
        input.Slug,
        Name = input.Name!.Trim(),
        SenderName = Blank(input.SenderName),
        SenderEmail = Blank(input.SenderEmail),
        ThankYouUrl = Blank(input.ThankYouUrl),
        ConfirmedUrl = Blank(input.ConfirmedUrl),
        ErrorUrl = Blank(input.ErrorUrl),
        AllowedOrigins = (input.AllowedOrigins ?? []).Select(o => o.TrimEnd('/').ToLowerInvariant()).Distinct().ToArray(),
        input.ConsentText,
        ConsentTextVersion = input.ConsentTextVersion!.Trim(),
        DefaultLocale = DefaultLocale(input),
        Welcome = input.Welcome ?? false,
        Hidden = input.Hidden ?? false,
    };

    static string DefaultLocale(ListInput input) => input.DefaultLocale is null ? "en" : InputRules.CanonicalLocale(input.DefaultLocale);

    static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
