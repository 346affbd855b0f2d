using System.Buffers;
using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using CsvHelper;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Subscriptions.Api.Data;
using Subscriptions.Api.Kernel;
using Subscriptions.Api.Signup;
using Subscriptions.Api.Hosting;

namespace Subscriptions.Api.Admin;

/// <summary>
/// Streams subscribers with their consent evidence straight from PostgreSQL to the response:
/// rows are written as the reader yields them, never collected, from the one snapshot a single
/// SELECT sees, in subscription order. A client that goes away cancels the query.
/// </summary>
public static class ExportEndpoint
{
    static readonly string[] Statuses = ["pending", "confirmed", "unsubscribed", "held"];

    static readonly string[] Header =
    [
        "email", "name", "list", "status", "signed_up_at", "confirmed_at", "unsubscribed_at", "consent_at", "consent_ip",
        "consent_user_agent", "consent_source", "consent_text_version", "consent_text_language",
        "utm_source", "utm_medium", "utm_campaign",
        "locale", "unsubscribe_url",
        "suppressed", "suppressed_reason", "manage_url",
    ];

    // Spreadsheets run a cell that starts with = + - @ tab or CR as a formula (OWASP "CSV
    // injection"): CsvHelper puts a ' in front of such text.
    static readonly CsvWriterOptions CsvOptions = CsvWriterOptions.Default with
    {
        Injection = CsvInjection.Escape,
        FormatProvider = CultureInfo.InvariantCulture,
    };

    const string TimestampFormat = "yyyy-MM-ddTHH:mm:ss.ffffffZ";

    public sealed record ExportRow(
        long Id, string Email, string? Name, string List, string Status, DateTime SignedUpAt, DateTime? ConfirmedAt,
        DateTime? UnsubscribedAt, DateTime ConsentAt, string? ConsentIp, string? ConsentUserAgent, string? ConsentSource,
        string ConsentTextVersion, string? ConsentTextLanguage, string? UtmSource, string? UtmMedium, string? UtmCampaign,
        string? Locale, string? SuppressedReason);

    public static RouteGroupBuilder MapExport(this RouteGroupBuilder admin)
    {
        admin.MapGet("/export", Export)
            .WithName("Export")
            .ReadsReplica()
            .WithSummary("Streams subscribers as CSV or NDJSON, with consent evidence and an unsubscribe URL per row.")
            .Produces<string>(StatusCodes.Status200OK, "text/csv", "application/x-ndjson");
        return admin;
    }

    static async Task<Results<EmptyHttpResult, ValidationProblem>> Export(
        HttpContext http, ReadOnlyDatabase reads, UnsubscribeLinks unsubscribeLinks, ManageLinks manageLinks, TimeProvider clock,
        string? format, string? list, string? status, DateTimeOffset? since)
    {
        format ??= "csv";
        var errors = new Dictionary<string, string[]>();
        if (format is not ("csv" or "ndjson"))
        {
            errors["format"] = ["format is csv or ndjson."];
        }

        if (list is not null && !InputRules.IsListSlug(list))
        {
            errors["list"] = ["list is a list slug: lower-case letters, digits and hyphens."];
        }

        if (status is not null && !Statuses.Contains(status))
        {
            errors["status"] = ["status is pending, confirmed, unsubscribed or held."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var cancellationToken = http.RequestAborted;
        // The replica when one is configured; its replay time goes into the response's headers.
        await using var connection = await reads.OpenAsync(http.Response, cancellationToken);
        // Held ones only when asked for. The text stays under PostgreSQL's track_activity_query_size
        // (1,024 bytes), so pg_stat_activity shows it whole (ExportStreamingTests looks for it there).
        await using var command = new NpgsqlCommand("""
            SELECT sub.id AS Id, s.email_as_typed AS Email, s.name AS Name, l.slug AS List, sub.status AS Status,
                   sub.created_at AS SignedUpAt, sub.confirmed_at AS ConfirmedAt, sub.unsubscribed_at AS UnsubscribedAt,
                   sub.consent_at AS ConsentAt, host(sub.consent_ip) AS ConsentIp, sub.consent_user_agent AS ConsentUserAgent,
                   sub.consent_source AS ConsentSource, sub.consent_text_version AS ConsentTextVersion,
                   sub.consent_text_language AS ConsentTextLanguage,
                   sub.utm_source AS UtmSource, sub.utm_medium AS UtmMedium, sub.utm_campaign AS UtmCampaign,
                   s.locale AS Locale, sup.reason AS SuppressedReason
            FROM subscriptions sub
            JOIN subscribers s ON s.id = sub.subscriber_id
            JOIN lists l ON l.id = sub.list_id
            LEFT JOIN suppressions sup ON sup.email = s.email AND sup.lifted_at IS NULL
            WHERE ($1::text IS NULL OR l.slug = $1)
              AND (sub.status = $2 OR ($2::text IS NULL AND sub.status <> 'held'))
              AND ($3::timestamptz IS NULL OR sub.updated_at >= $3)
            ORDER BY sub.id
            """, connection)
        {
            // the export runs as long as the client keeps reading; a departed client cancels it
            CommandTimeout = 0,
            Parameters =
            {
                new() { Value = (object?)list ?? DBNull.Value },
                new() { Value = (object?)status ?? DBNull.Value },
                new() { Value = since is { } s ? s.ToUniversalTime() : DBNull.Value },
            },
        };
        await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, cancellationToken);

        var extension = format == "csv" ? "csv" : "ndjson";
        http.Response.ContentType = format == "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8";
        http.Response.Headers.ContentDisposition =
            $"attachment; filename=\"subscribers-{clock.GetUtcNow():yyyy-MM-dd}.{extension}\"";

        var rows = ReadAsync(reader, cancellationToken);
        using var unsubscribeUrl = await unsubscribeLinks.UrlMakerAsync(cancellationToken);
        using var manageUrl = await manageLinks.UrlMakerAsync(cancellationToken);
        if (format == "csv")
        {
            await WriteCsvAsync(http.Response.Body, rows, unsubscribeUrl, manageUrl, cancellationToken);
        }
        else
        {
            await WriteNdjsonAsync(http.Response.BodyWriter, rows, unsubscribeUrl, manageUrl, cancellationToken);
        }

        return TypedResults.Empty;
    }

    static async IAsyncEnumerable<ExportRow> ReadAsync(DbDataReader reader, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var parse = reader.GetRowParser<ExportRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return parse(reader);
        }
    }

    static async Task WriteCsvAsync(
        Stream body, IAsyncEnumerable<ExportRow> rows, IdLinkMaker unsubscribeUrl, IdLinkMaker manageUrl, CancellationToken cancellationToken)
    {
        await using var csv = CsvWriter.Create(body, CsvOptions, leaveOpen: true);
        var url = new char[unsubscribeUrl.Length];
        var manage = new char[manageUrl.Length];
        csv.WriteHeader(Header);
        await foreach (var row in rows)
        {
            csv.WriteField(row.Email);
            csv.WriteField(row.Name);
            csv.WriteField(row.List);
            csv.WriteField(row.Status);
            csv.WriteField(row.SignedUpAt, TimestampFormat);
            csv.WriteField(row.ConfirmedAt, TimestampFormat);
            csv.WriteField(row.UnsubscribedAt, TimestampFormat);
            csv.WriteField(row.ConsentAt, TimestampFormat);
            csv.WriteField(row.ConsentIp);
            csv.WriteField(row.ConsentUserAgent);
            csv.WriteField(row.ConsentSource);
            csv.WriteField(row.ConsentTextVersion);
            csv.WriteField(row.ConsentTextLanguage);
            csv.WriteField(row.UtmSource);
            csv.WriteField(row.UtmMedium);
            csv.WriteField(row.UtmCampaign);
            csv.WriteField(row.Locale);
            csv.WriteField(unsubscribeUrl.Write(row.Id, url));
            csv.WriteField(row.SuppressedReason is null ? "false" : "true");
            csv.WriteField(row.SuppressedReason);
            csv.WriteField(manageUrl.Write(row.Id, manage));
            await csv.EndRecordAsync(cancellationToken);
        }

        await csv.FlushAsync(cancellationToken);
    }

    static async Task WriteNdjsonAsync(
        System.IO.Pipelines.PipeWriter body, IAsyncEnumerable<ExportRow> rows, IdLinkMaker unsubscribeUrl, IdLinkMaker manageUrl, CancellationToken cancellationToken)
    {
        await using var json = new Utf8JsonWriter(body);
        var url = new char[unsubscribeUrl.Length];
        var manage = new char[manageUrl.Length];
        await foreach (var row in rows)
        {
            json.WriteStartObject();
            json.WriteString("email", row.Email);
            json.WriteString("name", row.Name);
            json.WriteString("list", row.List);
            json.WriteString("status", row.Status);
            json.WriteString("signed_up_at", Timestamp(row.SignedUpAt));
            json.WriteString("confirmed_at", Timestamp(row.ConfirmedAt));
            json.WriteString("unsubscribed_at", Timestamp(row.UnsubscribedAt));
            json.WriteString("consent_at", Timestamp(row.ConsentAt));
            json.WriteString("consent_ip", row.ConsentIp);
            json.WriteString("consent_user_agent", row.ConsentUserAgent);
            json.WriteString("consent_source", row.ConsentSource);
            json.WriteString("consent_text_version", row.ConsentTextVersion);
            json.WriteString("consent_text_language", row.ConsentTextLanguage);
            json.WriteString("utm_source", row.UtmSource);
            json.WriteString("utm_medium", row.UtmMedium);
            json.WriteString("utm_campaign", row.UtmCampaign);
            json.WriteString("locale", row.Locale);
            json.WriteString("unsubscribe_url", unsubscribeUrl.Write(row.Id, url));
            json.WriteBoolean("suppressed", row.SuppressedReason is not null);
            json.WriteString("suppressed_reason", row.SuppressedReason);
            json.WriteString("manage_url", manageUrl.Write(row.Id, manage));
            json.WriteEndObject();
            json.Flush();
            json.Reset();
            body.Write("\n"u8);
            if (body.UnflushedBytes > 64 * 1024)
            {
                await body.FlushAsync(cancellationToken);
            }
        }

        await body.FlushAsync(cancellationToken);
    }

    static string? Timestamp(DateTime? utc) => utc?.ToString(TimestampFormat, CultureInfo.InvariantCulture);
}
