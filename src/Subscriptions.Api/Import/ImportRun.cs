using System.Diagnostics;
using Dapper;
using Npgsql;
using NpgsqlTypes;
using Subscriptions.Api.Data;

namespace Subscriptions.Api.Import;

/// <summary>
/// One import: rows stream from the reader through the row rules into PostgreSQL's binary COPY,
/// <see cref="ChunkRows"/> at a time, each chunk in a transaction of its own (staged, decided,
/// applied, committed). Chunks rather than one transaction: a million-row file does not hold its
/// locks and its undo for the whole upload, a signup of an address in the file waits at most one
/// chunk, and a cut-off upload keeps what was committed (a re-run changes nothing for those rows).
/// </summary>
public sealed class ImportRun(NpgsqlDataSource dataSource, ServiceKeys keys, TimeProvider clock, ILogger logger)
{
    public const int ChunkRows = 50_000;
    static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(5);

    // a chunk's statements against a large audience may take longer than the default 30 s
    const int StatementTimeout = 600;

    public sealed record Target(int ListId, string DefaultLanguage, bool DryRun, bool SendConfirmations, TimeSpan ResendInterval, int DailyLimit);

    sealed record OutcomeCount(string Outcome, long Rows);

    public async Task RunAsync(IAsyncEnumerable<SourceRow> rows, Target target, ImportReport report, CancellationToken cancellationToken)
    {
        var importId = Guid.NewGuid().ToString("N")[..8];
        var started = Stopwatch.GetTimestamp();
        var lastProgress = started;
        var key = await keys.KeyAsync(cancellationToken);
        using var erasureMac = new PurposeMac(key, "erasure");
        var hash = new byte[32];
        var inChunk = new HashSet<string>(StringComparer.Ordinal);
        logger.LogInformation("Import {ImportId} started: {Format} ({Profile}) into list {ListId}, dry run {DryRun}",
            importId, report.Format, report.Profile, target.ListId, target.DryRun);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(ImportSql.CreateStaging, cancellationToken: cancellationToken));
        try
        {
            await using var enumerator = rows.GetAsyncEnumerator(cancellationToken);
            var more = true;
            while (more)
            {
                var now = clock.GetUtcNow().UtcDateTime;
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                var staged = 0;
                inChunk.Clear();
                await using (var copy = await connection.BeginBinaryImportAsync(ImportSql.Copy, cancellationToken))
                {
                    while (staged < ChunkRows && (more = await enumerator.MoveNextAsync()))
                    {
                        var source = enumerator.Current;
                        report.Rows++;
                        if (source.Error is { } unreadable)
                        {
                            report.Add(unreadable);
                            if (source.Fatal)
                            {
                                report.Rows--; // the line that stopped the reader is not a row
                                report.Complete = false;
                                more = false;
                            }

                            continue;
                        }

                        if (!ImportRowRules.TryRead(source.Line, source.Fields, now, target.DefaultLanguage, out var row, out var error))
                        {
                            report.Add(error);
                            continue;
                        }

                        // the first row of an address in a chunk counts (a later chunk meets it in the database)
                        if (!inChunk.Add(row.Email))
                        {
                            report.Count("duplicate", 1);
                            continue;
                        }

                        erasureMac.Compute(row.Email, hash);
                        await WriteAsync(copy, row, hash, cancellationToken);
                        staged++;
                    }

                    await copy.CompleteAsync(cancellationToken);
                }

                if (staged > 0)
                {
                    await connection.ExecuteAsync(new CommandDefinition(ImportSql.Classify, new { listId = target.ListId }, transaction, StatementTimeout, cancellationToken: cancellationToken));
                    var counts = target.DryRun
                        ? await connection.QueryAsync<OutcomeCount>(new CommandDefinition(ImportSql.Outcomes, transaction: transaction, commandTimeout: StatementTimeout, cancellationToken: cancellationToken))
                        : await connection.QueryAsync<OutcomeCount>(new CommandDefinition(ImportSql.Apply, new
                        {
                            listId = target.ListId,
                            now,
                            origin = $"import {report.Profile}",
                            sendConfirmations = target.SendConfirmations,
                            resendInterval = target.ResendInterval,
                            dailyLimit = target.DailyLimit,
                        }, transaction, StatementTimeout, cancellationToken: cancellationToken));
                    foreach (var count in counts)
                    {
                        if (count.Outcome == "queued")
                        {
                            report.ConfirmationsQueued += count.Rows;
                        }
                        else
                        {
                            report.Count(count.Outcome, count.Rows);
                        }
                    }
                }

                if (target.DryRun)
                {
                    await transaction.RollbackAsync(cancellationToken);
                }
                else
                {
                    await transaction.CommitAsync(cancellationToken);
                }

                if (Stopwatch.GetElapsedTime(lastProgress) >= ProgressEvery)
                {
                    lastProgress = Stopwatch.GetTimestamp();
                    logger.LogInformation("Import {ImportId}: {Rows} rows read, {RowsPerSecond:F0} rows/s",
                        importId, report.Rows, report.Rows / Stopwatch.GetElapsedTime(started).TotalSeconds);
                }
            }
        }
        finally
        {
            if (connection.State == System.Data.ConnectionState.Open)
            {
                await connection.ExecuteAsync(ImportSql.DropStaging);
            }
        }

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        logger.LogInformation(
            "Import {ImportId} done: {Rows} rows in {Seconds:F1} s ({RowsPerSecond:F0} rows/s): {Created} created, {Updated} updated, {Kept} kept, {Refused} refused, {Invalid} invalid, {Queued} confirmations queued",
            importId, report.Rows, seconds, report.Rows / Math.Max(seconds, 0.001), report.Created, report.Updated, report.Kept,
            report.Refused.Values.Sum(), report.Invalid, report.ConfirmationsQueued);
    }

    static async Task WriteAsync(NpgsqlBinaryImporter copy, ImportRow row, byte[] hash, CancellationToken cancellationToken)
    {
        await copy.StartRowAsync(cancellationToken);
        await copy.WriteAsync(row.Line, NpgsqlDbType.Bigint, cancellationToken);
        await copy.WriteAsync(row.Email, NpgsqlDbType.Text, cancellationToken);
        await copy.WriteAsync(row.EmailAsTyped, NpgsqlDbType.Text, cancellationToken);
        await WriteOrNullAsync(copy, row.Name, NpgsqlDbType.Text, cancellationToken);
        await WriteOrNullAsync(copy, row.Locale, NpgsqlDbType.Text, cancellationToken);
        await copy.WriteAsync(row.Status, NpgsqlDbType.Text, cancellationToken);
        await WriteOrNullAsync(copy, row.SignedUpAt, NpgsqlDbType.TimestampTz, cancellationToken);
        await copy.WriteAsync(row.ConsentAt, NpgsqlDbType.TimestampTz, cancellationToken);
        await WriteOrNullAsync(copy, row.ConsentIp, NpgsqlDbType.Inet, cancellationToken);
        await WriteOrNullAsync(copy, row.ConsentUserAgent, NpgsqlDbType.Text, cancellationToken);
        await WriteOrNullAsync(copy, row.ConsentSource, NpgsqlDbType.Text, cancellationToken);
        await copy.WriteAsync(row.ConsentTextVersion, NpgsqlDbType.Text, cancellationToken);
        await WriteOrNullAsync(copy, row.ConsentTextLanguage, NpgsqlDbType.Text, cancellationToken);
        await WriteOrNullAsync(copy, row.ConfirmedAt, NpgsqlDbType.TimestampTz, cancellationToken);
        await WriteOrNullAsync(copy, row.UnsubscribedAt, NpgsqlDbType.TimestampTz, cancellationToken);
        await copy.WriteAsync(row.MailLanguage, NpgsqlDbType.Text, cancellationToken);
        await copy.WriteAsync(hash, NpgsqlDbType.Bytea, cancellationToken);
    }

    static Task WriteOrNullAsync<T>(NpgsqlBinaryImporter copy, T? value, NpgsqlDbType type, CancellationToken cancellationToken) =>
        value is null ? copy.WriteNullAsync(cancellationToken) : copy.WriteAsync(value, type, cancellationToken);
}
