using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Localization;
using Microsoft.Extensions.Options;
using Npgsql;
using RazorSlices;
using Subscriptions.Api.Data;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Kernel;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Outbox;
using Subscriptions.Api.Pages;
using Subscriptions.Api.Protection;

namespace Subscriptions.Api.Manage;

/// <summary>
/// The reader's preference centre, <c>/manage/{token}</c>: the lists they may choose with their
/// status, the language of their mails, "unsubscribe from everything" and "download my data".
/// GET changes nothing (mail scanners prefetch links); POST changes, each change in one
/// transaction with its ledger rows, which the ledger's trigger turns into webhook events (a
/// language change queues its subscriber.updated event itself: ManageSql.ChangeLanguage).
/// Like the unsubscribe link, the link itself is the secret: no cookie, no antiforgery token.
/// </summary>
public static class ManageEndpoints
{
    const int MaxBodyBytes = 16 * 1024;
    const int MaxUserAgentLength = 512;

    public static IEndpointRouteBuilder MapManage(this IEndpointRouteBuilder app)
    {
        var manage = app.MapGroup(ManageLinks.Path).RequireRateLimiting(RateLimiting.Links).WithTags("Manage")
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesUnavailable()
            .ProducesPage(StatusCodes.Status503ServiceUnavailable)
            .OpensInBrowser();

        manage.MapGet("/{token}", Show)
            .WithName("ShowPreferences")
            .WithSummary("The preference centre: lists with the reader's status, the language of their mails, unsubscribe from all, download my data. Changes nothing.")
            .ProducesPage(StatusCodes.Status200OK, StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status404NotFound);

        manage.MapPost("/{token}", Change)
            .WithName("ChangePreferences")
            .WithSummary("The centre's form: action=save (list, repeated; language), action=unsubscribe-all, or action=download (the reader's data as a JSON file).")
            .Accepts<ManageForm>("application/x-www-form-urlencoded", "multipart/form-data")
            .Produces(StatusCodes.Status303SeeOther)
            .Produces<PersonalData.Document>(StatusCodes.Status200OK, "application/json")
            .ProducesPage(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .DisableAntiforgery();

        return app;
    }

    /// <summary>For the document only: the centre's form.</summary>
    public sealed record ManageForm(string Action, string[]? List, string? Language);

    sealed record Reader(long SubscriberId, string Email, string? Locale);

    sealed record Choice(string Slug, string Name, string? Status);

    static async Task<Reader?> ReaderAsync(NpgsqlConnection connection, long subscriptionId, CancellationToken cancellationToken) =>
        await connection.QuerySingleOrDefaultAsync<Reader>(new CommandDefinition(ManageSql.Reader, new { subscriptionId }, cancellationToken: cancellationToken));

    /// <summary>The reader's language: the one they chose for their mails, else the browser's.</summary>
    static string UseReaderLanguage(HttpRequest request, Reader reader)
    {
        var language = Languages.Choose(reader.Locale, request.GetTypedHeaders().AcceptLanguage, null);
        Languages.Use(request.HttpContext, language);
        return language;
    }

    static async Task<Results<RazorSlice<Preferences>, ProblemHttpResult>> Show(
        string token, string? done, HttpRequest request, ManageLinks links, NpgsqlDataSource dataSource, IStringLocalizer<Texts> texts,
        CancellationToken cancellationToken)
    {
        if (await links.VerifyAsync(token, cancellationToken) is not { } subscriptionId)
        {
            return UnknownLink(PageText.For(request));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (await ReaderAsync(connection, subscriptionId, cancellationToken) is not { } reader)
        {
            return UnknownLink(PageText.For(request));
        }

        var language = UseReaderLanguage(request, reader);
        var choices = await connection.QueryAsync<Choice>(new CommandDefinition(ManageSql.Choices,
            new { reader.SubscriberId, language }, cancellationToken: cancellationToken));
        var notice = done switch
        {
            "saved" => texts["ManageSaved"].Value,
            "left" => texts["ManageLeftAll"].Value,
            _ => null,
        };
        return TypedResults.RazorSlice<PreferencesPage, Preferences>(new Preferences(
            texts["ManageTitle"], texts["ManageIntro"], notice, texts["ManageListsLegend"],
            [.. choices.Select(c => new PreferenceRow(c.Slug, c.Name, c.Status is "pending" or "confirmed",
                texts[c.Status switch { "confirmed" => "ManageStatusConfirmed", "pending" => "ManageStatusPending", _ => "ManageStatusNone" }]))],
            texts["ManageLanguageLabel"], [.. Languages.Supported.Order().Select(l => new LanguageOption(l, Endonyms[l], l == language))],
            texts["ManageSave"], texts["ManageLeaveAllHint"], texts["ManageLeaveAll"], texts["ManageDownloadHint"], texts["ManageDownload"]));
    }

    /// <summary>Each language by its own name, as a reader who cannot read the page's language looks for it.</summary>
    static readonly Dictionary<string, string> Endonyms = new(StringComparer.OrdinalIgnoreCase)
    {
        ["en"] = "English", ["de"] = "Deutsch", ["es"] = "Español", ["fr"] = "Français", ["it"] = "Italiano", ["nl"] = "Nederlands", ["pl"] = "Polski", ["pt"] = "Português",
    };

    static async Task<IResult> Change(
        string token, HttpRequest request, ManageLinks links, NpgsqlDataSource dataSource, ServiceKeys keys, OutboxSignal signal,
        SubscriptionsMetrics metrics, TimeProvider clock, IOptions<JsonOptions> json, IStringLocalizer<Texts> texts,
        CancellationToken cancellationToken)
    {
        var text = PageText.For(request);
        if (await links.VerifyAsync(token, cancellationToken) is not { } subscriptionId)
        {
            return UnknownLink(text);
        }

        if (!request.HasFormContentType)
        {
            return ReaderProblem.Result(StatusCodes.Status415UnsupportedMediaType, texts["ProblemContentTypeTitle"], texts["ProblemContentType"]);
        }

        if (Utf8Bodies.DeclaresOtherCharset(request))
        {
            return ReaderProblem.Result(StatusCodes.Status415UnsupportedMediaType, texts["ProblemCharsetTitle"], texts["ProblemCharset"]);
        }

        if (request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBodyBytes;
        }

        IFormCollection form;
        try
        {
            form = await request.ReadFormAsync(cancellationToken);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return ReaderProblem.Result(ex.StatusCode, texts["ProblemTooLargeTitle"], texts["ProblemMalformedForm"]);
        }
        catch (Exception ex) when (ex is BadHttpRequestException or InvalidDataException or IOException or FormatException)
        {
            return ReaderProblem.Result(StatusCodes.Status400BadRequest, texts["ProblemMalformedFormTitle"], texts["ProblemMalformedForm"]);
        }

        var action = form["action"];
        var lists = form["list"];
        var chosenLanguage = form["language"];
        if (action.Count != 1 || form.Files.Count > 0 || chosenLanguage.Count > 1 || lists.Count > 100
            || !lists.All(l => l is not null && InputRules.IsListSlug(l))
            || (chosenLanguage.Count == 1 && !Languages.Supported.Contains(chosenLanguage[0] ?? "")))
        {
            return ReaderProblem.Result(StatusCodes.Status400BadRequest, texts["ProblemBadRequestTitle"], texts["ProblemMalformedForm"]);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (await ReaderAsync(connection, subscriptionId, cancellationToken) is not { } reader)
        {
            return UnknownLink(text);
        }

        var language = UseReaderLanguage(request, reader);
        var now = clock.GetUtcNow();
        var self = $"{ManageLinks.Path}/{token}";
        switch (action[0])
        {
            case "download":
                var document = await PersonalData.ByIdAsync(connection, reader.SubscriberId, now, cancellationToken);
                if (document is null)
                {
                    return UnknownLink(text);
                }

                request.HttpContext.Response.Headers.ContentDisposition = $"attachment; filename=\"my-data-{now:yyyy-MM-dd}.json\"";
                request.HttpContext.Response.Headers.CacheControl = "no-store";
                return TypedResults.Json(document, json.Value.SerializerOptions);

            case "save" or "unsubscribe-all":
                string?[] chosen = action[0] == "save" ? [.. lists.Distinct()] : [];
                var newLanguage = action[0] == "save" && chosenLanguage.Count == 1 ? chosenLanguage[0]!.ToLowerInvariant() : null;
                var userAgent = request.Headers.UserAgent.ToString();
                var ip = request.HttpContext.Connection.RemoteIpAddress is { IsIPv4MappedToIPv6: true } mapped ? mapped.MapToIPv4() : request.HttpContext.Connection.RemoteIpAddress;
                var suppressed = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                    "SELECT address_suppressed(@email, @hash)", new { email = reader.Email, hash = await keys.MacAsync("erasure", reader.Email, cancellationToken) },
                    cancellationToken: cancellationToken));
                await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
                {
                    var changes = await connection.QuerySingleAsync<(long Joined, long LeftLists)>(new CommandDefinition(ManageSql.Choose, new
                    {
                        reader.SubscriberId,
                        chosen,
                        now,
                        ip = ip?.ToString(),
                        userAgent = userAgent.Length == 0 ? null : userAgent[..Math.Min(userAgent.Length, MaxUserAgentLength)],
                        language = newLanguage ?? language,
                        suppressed,
                        traceparent = Tracing.CurrentTraceparent,
                    }, transaction, cancellationToken: cancellationToken));
                    if (newLanguage is not null)
                    {
                        await connection.ExecuteAsync(new CommandDefinition(ManageSql.ChangeLanguage,
                            new { reader.SubscriberId, language = newLanguage, now }, transaction, cancellationToken: cancellationToken));
                    }

                    await transaction.CommitAsync(cancellationToken);
                    for (var i = 0; i < changes.LeftLists; i++)
                    {
                        metrics.Unsubscribed();
                    }
                }

                signal.Raise(OutboxLane.Webhooks);
                return new SeeOtherHttpResult($"{self}?done={(action[0] == "save" ? "saved" : "left")}");

            default:
                return ReaderProblem.Result(StatusCodes.Status400BadRequest, texts["ProblemBadRequestTitle"], texts["ProblemMalformedForm"]);
        }
    }

    static ProblemHttpResult UnknownLink(PageText text) =>
        ReaderProblem.Result(StatusCodes.Status404NotFound, text.UnknownLinkTitle, text.UnknownManageLink);
}
