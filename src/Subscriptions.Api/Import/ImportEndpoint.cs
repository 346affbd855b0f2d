using Dapper;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Npgsql;
using Subscriptions.Api.Confirmation;
using Subscriptions.Api.Data;
using Subscriptions.Api.Kernel;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Outbox;
using ImportResult = Microsoft.AspNetCore.Http.HttpResults.Results<
    Microsoft.AspNetCore.Http.HttpResults.Ok<Subscriptions.Api.Import.ImportReport>,
    Microsoft.AspNetCore.Http.HttpResults.ValidationProblem,
    Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult>;

namespace Subscriptions.Api.Import;

/// <summary>
/// POST /api/admin/import: an audience from another tool (or from this service's export), streamed
/// in as CSV or NDJSON, never overwriting an unsubscribed, suppressed or erased address.
/// </summary>
public static class ImportEndpoint
{
    public static RouteGroupBuilder MapImport(this RouteGroupBuilder admin)
    {
        admin.MapPost("/import", Import)
            .WithName("Import")
            .WithSummary("Imports subscribers from CSV or NDJSON (this service's export, Mailchimp, listmonk), streamed; dryRun=true only reports.")
            .WithDescription("""
                The body is the file itself. A row becomes confirmed only with consent evidence (a time, and an IP address
                or a source); otherwise it is pending and gets a confirmation mail unless sendConfirmations=false. An
                unsubscribed, suppressed or erased address is never subscribed again; a confirmed one keeps its evidence.
                The answer counts what was created, updated, kept and refused, and lists the first 100 unreadable rows by line.
                """)
            .Accepts<string>("text/csv", "application/x-ndjson")
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .DisableAntiforgery();
        return admin;
    }

    public record struct ImportServices(
        NpgsqlDataSource DataSource,
        ServiceKeys Keys,
        OutboxSignal Outbox,
        TimeProvider Clock,
        IOptions<ConfirmationOptions> Confirmation,
        ILoggerFactory Logs,
        CancellationToken CancellationToken);

    static async Task<ImportResult> Import(
        HttpRequest request, [AsParameters] ImportServices services,
        string? format, string? list, bool? dryRun, bool? sendConfirmations)
    {
        format ??= request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true ? "ndjson" : "csv";
        list ??= InputRules.DefaultList;
        var errors = new Dictionary<string, string[]>();
        if (format is not ("csv" or "ndjson"))
        {
            errors["format"] = ["format is csv or ndjson."];
        }

        if (!InputRules.IsListSlug(list))
        {
            errors["list"] = ["list is a list slug: lower-case letters, digits and hyphens."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        // A file declared in another charset is refused whole; bytes that are not UTF-8 in an undeclared one, row by row.
        if (request.ContentType is { } contentType
            && (!MediaTypeHeaderValue.TryParse(contentType, out var mediaType)
                || (mediaType.Charset.HasValue && !mediaType.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType,
                title: "The file must be UTF-8.", detail: "Send the file as UTF-8 (charset=utf-8, or no charset).");
        }

        await using var connection = await services.DataSource.OpenConnectionAsync(services.CancellationToken);
        var target = await connection.QuerySingleOrDefaultAsync<(int Id, string DefaultLocale)?>(new CommandDefinition(
            "SELECT id, default_locale FROM lists WHERE slug = @list", new { list }, cancellationToken: services.CancellationToken));
        await connection.CloseAsync();
        if (target is not { } found)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["list"] = [$"There is no list {list}."] });
        }

        // The file is streamed, so its size is no concern of memory: an audience may be gigabytes.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }

        ImportReaders.Header header;
        try
        {
            header = format == "csv"
                ? await ImportReaders.CsvAsync(request.Body, services.CancellationToken)
                : await ImportReaders.NdjsonAsync(request.Body, services.CancellationToken);
        }
        catch (ImportFileException ex)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "The file cannot be imported.",
                detail: ex.Message, extensions: new Dictionary<string, object?> { ["reason"] = ex.Reason });
        }

        var report = new ImportReport(format, header.Profile, list, dryRun ?? false);
        var confirmation = services.Confirmation.Value;
        var run = new ImportRun(services.DataSource, services.Keys, services.Clock, services.Logs.CreateLogger(typeof(ImportRun)));
        await run.RunAsync(header.Rows, new ImportRun.Target(found.Id, Languages.OfListDefault(found.DefaultLocale), report.DryRun,
            sendConfirmations ?? true, confirmation.ResendInterval, confirmation.DailyLimit), report, services.CancellationToken);
        if (report.ConfirmationsQueued > 0)
        {
            services.Outbox.Raise();
        }

        return TypedResults.Ok(report);
    }
}
