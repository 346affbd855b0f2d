using System.Globalization;
using System.IO.Pipelines;
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
/// a binary COPY of one SELECT (one statement, one snapshot, in subscription order) read in
/// batches of rows (<see cref="BinaryCopyRows"/>), their links made a batch at a time, written as
/// UTF-8 into the response (<see cref="ExportCsv"/>, <see cref="ExportNdjson"/>), never collected.
/// A client that goes away cancels the query.
/// </summary>
public static class ExportEndpoint
{
    static readonly string[] Statuses = ["pending", "confirmed", "unsubscribed", "held"];

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
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(ExportQuery.SetFilters,
            // to the microsecond, cut as Npgsql cuts a DateTime parameter (PostgreSQL would round the 7th digit)
            new { list, status, since = since?.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture) },
            transaction, cancellationToken: cancellationToken));

        var extension = format == "csv" ? "csv" : "ndjson";
        http.Response.ContentType = format == "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8";
        http.Response.Headers.ContentDisposition =
            $"attachment; filename=\"subscribers-{clock.GetUtcNow():yyyy-MM-dd}.{extension}\"";

        using var unsubscribeUrl = await unsubscribeLinks.UrlMakerAsync(cancellationToken);
        using var manageUrl = await manageLinks.UrlMakerAsync(cancellationToken);
        // the export runs as long as the client keeps reading; a departed client cancels it
        await using var copy = await connection.BeginRawBinaryCopyAsync(ExportQuery.Copy, cancellationToken);
        copy.ReadTimeout = 0;
        try
        {
            await WriteAsync(http.Response.BodyWriter, copy, format, unsubscribeUrl, manageUrl, cancellationToken);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            // left unread, the rest of the COPY would be drained to its end on disposal
            try
            {
                await copy.CancelAsync();
            }
            catch (ObjectDisposedException)
            {
                // a cancelled read has already broken the connection off, which ends the query
            }

            throw;
        }

        return TypedResults.Empty;
    }

    static async Task WriteAsync(
        PipeWriter body, Stream copy, string format, IdLinkMaker unsubscribeUrl, IdLinkMaker manageUrl, CancellationToken cancellationToken)
    {
        using var rows = new BinaryCopyRows(copy, ExportQuery.Columns);
        using var ndjson = format == "ndjson" ? new ExportNdjson(body) : null;
        if (ndjson is null)
        {
            ExportCsv.WriteHeader(body);
        }

        var ids = new long[256];
        byte[] unsubscribeUrls = [], manageUrls = [];
        while (await rows.ReadBatchAsync(cancellationToken))
        {
            // the links of a whole batch at once (IdTokens.WriteUtf8: one AES call for all)
            if (ids.Length < rows.Count)
            {
                ids = new long[2 * rows.Count];
            }

            for (var row = 0; row < rows.Count; row++)
            {
                ids[row] = rows.Int64(row, ExportQuery.Id);
            }

            if (unsubscribeUrls.Length < ids.Length * unsubscribeUrl.Utf8Length)
            {
                unsubscribeUrls = new byte[ids.Length * unsubscribeUrl.Utf8Length];
                manageUrls = new byte[ids.Length * manageUrl.Utf8Length];
            }

            unsubscribeUrl.WriteUtf8(ids.AsSpan(0, rows.Count), unsubscribeUrls);
            manageUrl.WriteUtf8(ids.AsSpan(0, rows.Count), manageUrls);
            for (var row = 0; row < rows.Count; row++)
            {
                var unsubscribe = unsubscribeUrls.AsSpan(row * unsubscribeUrl.Utf8Length, unsubscribeUrl.Utf8Length);
                var manage = manageUrls.AsSpan(row * manageUrl.Utf8Length, manageUrl.Utf8Length);
                if (ndjson is null)
                {
                    ExportCsv.WriteRow(body, rows, row, unsubscribe, manage);
                }
                else
                {
                    ndjson.WriteRow(rows, row, unsubscribe, manage);
                }
            }

            if (body.UnflushedBytes > 64 * 1024)
            {
                await body.FlushAsync(cancellationToken);
            }
        }

        await body.FlushAsync(cancellationToken);
    }
}
