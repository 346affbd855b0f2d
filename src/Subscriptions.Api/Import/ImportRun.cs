using System.Diagnostics;
using Dapper;
using Npgsql;
using NpgsqlTypes;
using Subscriptions.Api.Data;

namespace Subscriptions.Api.Import;

/// <summary>
/// One import: rows stream from the reader through the row rules into PostgreSQL's binary COPY,
/// <see cref="ChunkRows"/> at a time, each chunk in a transaction of its own (staged, decided,
/// written, committed). Chunks rather than one transaction: a million-row file does not hold its
/// locks and its undo for the whole upload, a signup of an address in the file waits at most one
/// chunk, and a cut-off upload keeps what was committed (a re-run changes nothing for those rows).
/// Two connections take turns: while one decides and writes a chunk, the next chunk is read,
/// checked and copied into the other's staging table, so parsing here and writing in PostgreSQL
/// run at the same time. A chunk is decided only after the one before it committed, so it sees
/// it (an address twice in the file meets its first row in the database). Each chunk is split in
/// <see cref="Lanes"/> parts by address (its erasure hash), written at the same time on their own
/// connections and transactions: the parts share no address, so they never wait for each other,
/// and PostgreSQL spends more than one core on them.
/// </summary>
public sealed class ImportRun(NpgsqlDataSource dataSource, ServiceKeys keys, TimeProvider clock, ILogger logger)
{
    public const int ChunkRows = 50_000;

    // parts of a chunk written at once: one core each in PostgreSQL (README "Import")
    const int Lanes = 2;
    static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(5);

    // a chunk's statements against a large audience may take longer than the default 30 s
    const int StatementTimeout = 600;

    // a signup (or an erasure) racing a chunk makes its write fail; the chunk is then decided again
    const int MaxAttempts = 5;

    public sealed record Target(int ListId, string DefaultLanguage, bool DryRun, bool SendConfirmations, TimeSpan ResendInterval, int DailyLimit);

    sealed record OutcomeCount(string Outcome, long Rows);

    sealed record Chunk(NpgsqlConnection Connection, NpgsqlTransaction Transaction, int Staged, DateTime Now);

    public async Task RunAsync(IAsyncEnumerable<SourceRow> rows, Target target, ImportReport report, CancellationToken cancellationToken)
    {
        var importId = Guid.NewGuid().ToString("N")[..8];
        var started = Stopwatch.GetTimestamp();
        var lastProgress = started;
        var key = await keys.KeyAsync(cancellationToken);
        using var erasureMac = new PurposeMac(key, "erasure");
        logger.LogInformation("Import {ImportId} started: {Format} ({Profile}) into list {ListId}, dry run {DryRun}",
            importId, report.Format, report.Profile, target.ListId, target.DryRun);

        // one set of connections stages a chunk while the other writes the one before
        var connections = new NpgsqlConnection[2 * Lanes];
        Task<IReadOnlyList<OutcomeCount>>? writing = null;
        var reading = TimeSpan.Zero; // reading, checking and copying rows
        var waiting = TimeSpan.Zero; // waiting for the chunk before to be written
        try
        {
            for (var i = 0; i < connections.Length; i++)
            {
                connections[i] = await dataSource.OpenConnectionAsync(cancellationToken);
            }

            var stager = new Stager(rows.GetAsyncEnumerator(cancellationToken), erasureMac, target, report);
            await using var _ = stager;
            for (var turn = 0; stager.More; turn++)
            {
                var step = Stopwatch.GetTimestamp();
                var parts = await stager.StageAsync(connections.AsMemory(turn % 2 * Lanes, Lanes), clock.GetUtcNow().UtcDateTime, cancellationToken);
                reading += Stopwatch.GetElapsedTime(step);
                if (writing is not null)
                {
                    var previous = writing;
                    writing = null;
                    step = Stopwatch.GetTimestamp();
                    Count(report, await previous);
                    waiting += Stopwatch.GetElapsedTime(step);
                }

                writing = WriteAsync(parts, target, report.Profile, importId, cancellationToken);
                if (Stopwatch.GetElapsedTime(lastProgress) >= ProgressEvery)
                {
                    lastProgress = Stopwatch.GetTimestamp();
                    logger.LogInformation("Import {ImportId}: {Rows} rows read, {RowsPerSecond:F0} rows/s",
                        importId, report.Rows, report.Rows / Stopwatch.GetElapsedTime(started).TotalSeconds);
                }
            }

            if (writing is not null)
            {
                var last = writing;
                writing = null;
                var step = Stopwatch.GetTimestamp();
                Count(report, await last);
                waiting += Stopwatch.GetElapsedTime(step);
            }
        }
        finally
        {
            // the upload broke off (or a chunk failed): the chunk being written finishes or rolls back before the connections go
            if (writing is not null)
            {
                try
                {
                    await writing;
                }
                catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException)
                {
                    logger.LogWarning(ex, "Import {ImportId}: the last chunk was not written", importId);
                }
            }

            foreach (var connection in connections)
            {
                if (connection is not null)
                {
                    await connection.DisposeAsync();
                }
            }
        }

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        logger.LogInformation(
            "Import {ImportId} done: {Rows} rows in {Seconds:F1} s ({RowsPerSecond:F0} rows/s): {Created} created, {Updated} updated, {Kept} kept, {Refused} refused, {Invalid} invalid, {Queued} confirmations queued; {ReadingSeconds:F1} s reading the file, {WaitingSeconds:F1} s waiting for PostgreSQL to write",
            importId, report.Rows, seconds, report.Rows / Math.Max(seconds, 0.001), report.Created, report.Updated, report.Kept,
            report.Refused.Values.Sum(), report.Invalid, report.ConfirmationsQueued, reading.TotalSeconds, waiting.TotalSeconds);
    }

    static void Count(ImportReport report, IReadOnlyList<OutcomeCount> counts)
    {
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

    async Task<IReadOnlyList<OutcomeCount>> WriteAsync(Chunk[] parts, Target target, string profile, string importId, CancellationToken cancellationToken)
    {
        var counts = await Task.WhenAll(parts.Select(part => WritePartAsync(part, target, profile, importId, cancellationToken)));
        return [.. counts.SelectMany(c => c)];
    }

    /// <summary>Decides and writes a staged part of a chunk, then commits it (a dry run rolls back); owns its transaction.</summary>
    async Task<IReadOnlyList<OutcomeCount>> WritePartAsync(Chunk chunk, Target target, string profile, string importId, CancellationToken cancellationToken)
    {
        await using var transaction = chunk.Transaction;
        if (chunk.Staged == 0)
        {
            await transaction.RollbackAsync(cancellationToken);
            return [];
        }

        var connection = chunk.Connection;
        var parameters = new
        {
            listId = target.ListId,
            now = chunk.Now,
            dryRun = target.DryRun,
            origin = $"import {profile}",
            resendInterval = target.ResendInterval,
            dailyLimit = target.DailyLimit,
        };
        CommandDefinition Command(string sql) => new(sql, parameters, transaction, StatementTimeout, cancellationToken: cancellationToken);

        await transaction.SaveAsync("staged", cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await connection.ExecuteAsync(Command(ImportSql.Classify));
                List<OutcomeCount> counts = [];
                if (!target.DryRun)
                {
                    await connection.ExecuteAsync(Command(ImportSql.InsertSubscribers));
                    await connection.ExecuteAsync(Command(ImportSql.InsertSubscriptions));
                    await connection.ExecuteAsync(Command(ImportSql.LedgerOfCreated));
                    var updated = await connection.ExecuteScalarAsync<long>(Command(ImportSql.UpdatePending));
                    counts.Add(new("updated", updated));
                    counts.Add(new("kept", -updated)); // the 'updated' rows that were not are kept
                    if (target.SendConfirmations)
                    {
                        counts.Add(new("queued", await connection.ExecuteScalarAsync<long>(Command(ImportSql.QueueConfirmations))));
                    }
                }

                foreach (var count in await connection.QueryAsync<OutcomeCount>(Command(ImportSql.Outcomes)))
                {
                    counts.Add(count.Outcome == "updated" && !target.DryRun ? new("kept", count.Rows) : count);
                }

                if (target.DryRun)
                {
                    await transaction.RollbackAsync(cancellationToken);
                }
                else
                {
                    await transaction.CommitAsync(cancellationToken);
                }

                return counts;
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.ForeignKeyViolation
                                               && attempt < MaxAttempts)
            {
                logger.LogInformation("Import {ImportId}: an address of the chunk changed while it was written ({SqlState}); deciding it again",
                    importId, ex.SqlState);
                await transaction.RollbackAsync("staged", cancellationToken);
            }
        }
    }

    /// <summary>Reads rows from the file into a chunk's staging table: the row rules, the first row of each address, the erasure hash.</summary>
    sealed class Stager(IAsyncEnumerator<SourceRow> rows, PurposeMac erasureMac, Target target, ImportReport report) : IAsyncDisposable
    {
        readonly HashSet<string> _inChunk = new(StringComparer.Ordinal);
        readonly byte[] _hash = new byte[32];

        public bool More { get; private set; } = true;

        public async Task<Chunk[]> StageAsync(ReadOnlyMemory<NpgsqlConnection> connections, DateTime now, CancellationToken cancellationToken)
        {
            var transactions = new NpgsqlTransaction[connections.Length];
            var copies = new NpgsqlBinaryImporter[connections.Length];
            var staged = new int[connections.Length];
            try
            {
                for (var i = 0; i < connections.Length; i++)
                {
                    transactions[i] = await connections.Span[i].BeginTransactionAsync(cancellationToken);
                    await connections.Span[i].ExecuteAsync(new CommandDefinition(ImportSql.CreateStaging, transaction: transactions[i], cancellationToken: cancellationToken));
                    copies[i] = await connections.Span[i].BeginBinaryImportAsync(ImportSql.Copy, cancellationToken);
                }

                _inChunk.Clear();
                while (staged.Max() < ChunkRows && (More = await rows.MoveNextAsync()))
                {
                    var source = rows.Current;
                    report.Rows++;
                    if (source.Error is { } unreadable)
                    {
                        report.Add(unreadable);
                        if (source.Fatal)
                        {
                            report.Rows--; // the line that stopped the reader is not a row
                            report.Complete = false;
                            More = false;
                        }

                        continue;
                    }

                    if (!ImportRowRules.TryRead(source.Line, source.Fields, now, target.DefaultLanguage, out var row, out var error))
                    {
                        report.Add(error);
                        continue;
                    }

                    // the first row of an address in a chunk counts (a later chunk meets it in the database)
                    if (!_inChunk.Add(row.Email))
                    {
                        report.Count("duplicate", 1);
                        continue;
                    }

                    // the hash, keyed and uniform, also picks the part: an address always lands in the same one
                    erasureMac.Compute(row.Email, _hash);
                    var part = _hash[0] % connections.Length;
                    await WriteRowAsync(copies[part], row, _hash, cancellationToken);
                    staged[part]++;
                }

                var parts = new Chunk[connections.Length];
                for (var i = 0; i < connections.Length; i++)
                {
                    await copies[i].CompleteAsync(cancellationToken);
                    await copies[i].DisposeAsync();
                    parts[i] = new Chunk(connections.Span[i], transactions[i], staged[i], now);
                }

                return parts;
            }
            catch
            {
                foreach (var copy in copies)
                {
                    if (copy is not null)
                    {
                        await copy.DisposeAsync();
                    }
                }

                foreach (var transaction in transactions)
                {
                    if (transaction is not null)
                    {
                        await transaction.DisposeAsync();
                    }
                }

                throw;
            }
        }

        public ValueTask DisposeAsync() => rows.DisposeAsync();
    }

    static async Task WriteRowAsync(NpgsqlBinaryImporter copy, ImportRow row, byte[] hash, CancellationToken cancellationToken)
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
