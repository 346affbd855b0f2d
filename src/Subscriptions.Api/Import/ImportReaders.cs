using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text.Json;
using CsvHelper;

namespace Subscriptions.Api.Import;

/// <summary>
/// A row as read from the file: its fields by <see cref="ImportField"/> (the array is reused for
/// the next row), or why it could not be read. <c>Fatal</c>: the rest of the file cannot be read
/// either (a record longer than the limit, broken quoting at the end of a truncated file).
/// </summary>
public readonly record struct SourceRow(long Line, string?[] Fields, ImportError? Error = null, bool Fatal = false);

/// <summary>The file cannot be imported at all (no header, no address column): a 400 before anything is written.</summary>
public sealed class ImportFileException(string reason, string message) : Exception(message)
{
    public string Reason { get; } = reason;
}

/// <summary>
/// Streams the request body row by row: never more than one record (at most <see cref="MaxRecordBytes"/>)
/// and the readers' buffers in memory, however long the file.
/// </summary>
public static class ImportReaders
{
    public const int MaxRecordBytes = 1024 * 1024;

    // CsvHelper 34 reads UTF-8 bytes straight from the stream (no TextReader), finds the separator
    // (, ; tab |) itself and stops a record that grows past the limit (an unclosed quote).
    static readonly CsvReaderOptions CsvOptions = CsvReaderOptions.Default with
    {
        TrackLineNumbers = true,
        MaxRecordSize = MaxRecordBytes,
        MalformedData = CsvMalformedDataHandling.Throw,
    };

    public sealed record Header(string Profile, IAsyncEnumerable<SourceRow> Rows);

    public static async Task<Header> CsvAsync(Stream body, CancellationToken cancellationToken)
    {
        var csv = CsvReader.Create(body, CsvOptions, leaveOpen: true);
        IReadOnlyList<string> headers;
        try
        {
            await csv.ReadHeaderAsync(cancellationToken);
            headers = csv.Headers;
        }
        catch (CsvFormatException)
        {
            await csv.DisposeAsync();
            throw new ImportFileException("header_unreadable", $"The first line is not a CSV header (or is longer than {MaxRecordBytes} bytes).");
        }

        var map = ImportColumns.Map(headers);
        if (!map.Contains((int)ImportField.Email))
        {
            await csv.DisposeAsync();
            throw new ImportFileException("email_column_missing",
                "The header names no address column (email, Email Address or e-mail).");
        }

        return new Header(ImportColumns.Profile(headers), CsvRowsAsync(csv, map, cancellationToken));
    }

    static async IAsyncEnumerable<SourceRow> CsvRowsAsync(CsvReader csv, int[] map, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var _ = csv;
        var fields = new string?[ImportColumns.FieldCount];
        while (true)
        {
            bool more;
            CsvFormatException? failure = null;
            try
            {
                more = await csv.ReadAsync(cancellationToken);
            }
            catch (CsvFormatException ex)
            {
                more = false;
                failure = ex;
            }

            if (failure is not null)
            {
                yield return new SourceRow(failure.LineNumber, fields, new ImportError(failure.LineNumber, null, "csv_malformed",
                    $"Malformed CSV (an unclosed quote, or a record longer than {MaxRecordBytes} bytes): the import stopped here."), Fatal: true);
                yield break;
            }

            if (!more)
            {
                yield break;
            }

            Array.Clear(fields);
            for (var i = 0; i < map.Length && i < csv.FieldCount; i++)
            {
                if (map[i] >= 0 && fields[map[i]] is null)
                {
                    fields[map[i]] = Unneutralized(csv.GetString(i));
                }
            }

            yield return new SourceRow(csv.LineNumber, fields);
        }
    }

    // Our own export puts a ' before a cell a spreadsheet would run as a formula; the value is what follows.
    static string? Unneutralized(string value)
    {
        var trimmed = value.Trim();
        return trimmed.Length == 0 ? null
            : trimmed.Length > 1 && trimmed[0] == '\'' && trimmed[1] is '=' or '+' or '-' or '@' or '\t' or '\r' ? trimmed[1..]
            : trimmed;
    }

    /// <summary>NDJSON: one JSON object a line, named like the CSV columns; the first object's names decide the profile.</summary>
    public static async Task<Header> NdjsonAsync(Stream body, CancellationToken cancellationToken)
    {
        var lines = NdjsonLinesAsync(PipeReader.Create(body, new StreamPipeReaderOptions(leaveOpen: true)), cancellationToken);
        var enumerator = lines.GetAsyncEnumerator(cancellationToken);
        while (await enumerator.MoveNextAsync())
        {
            if (enumerator.Current is { Error: null, Names: { } names })
            {
                if (!names.Any(n => ImportColumns.Field(n) == ImportField.Email))
                {
                    await enumerator.DisposeAsync();
                    throw new ImportFileException("email_column_missing", "The first object names no address (email, Email Address or e-mail).");
                }

                return new Header(ImportColumns.Profile(names), Rest(enumerator.Current, enumerator));
            }

            if (enumerator.Current.Error is { } error)
            {
                await enumerator.DisposeAsync();
                throw new ImportFileException("first_line_unreadable", $"Line {error.Line}: {error.Message}");
            }
        }

        await enumerator.DisposeAsync();
        throw new ImportFileException("empty", "The file holds no rows.");
    }

    static async IAsyncEnumerable<SourceRow> Rest(NdjsonLine first, IAsyncEnumerator<NdjsonLine> rest)
    {
        await using var _ = rest;
        yield return first.Row;
        while (await rest.MoveNextAsync())
        {
            yield return rest.Current.Row;
        }
    }

    sealed record NdjsonLine(SourceRow Row, List<string>? Names, ImportError? Error);

    static async IAsyncEnumerable<NdjsonLine> NdjsonLinesAsync(PipeReader pipe, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var fields = new string?[ImportColumns.FieldCount];
        long line = 0;
        var skipping = false; // inside a line longer than the limit: read to its end, keep nothing
        try
        {
            while (true)
            {
                var read = await pipe.ReadAsync(cancellationToken);
                var buffer = read.Buffer;
                while (buffer.PositionOf((byte)'\n') is { } end)
                {
                    var text = buffer.Slice(0, end);
                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                    line++;
                    if (skipping)
                    {
                        skipping = false;
                        continue;
                    }

                    if (Parse(line, text, fields) is { } parsed)
                    {
                        yield return parsed;
                    }
                }

                if (buffer.Length > MaxRecordBytes)
                {
                    if (!skipping)
                    {
                        var error = new ImportError(line + 1, null, "line_too_long", $"A line is longer than {MaxRecordBytes} bytes.");
                        yield return new NdjsonLine(new SourceRow(line + 1, fields, error), null, error);
                    }

                    skipping = true;
                    buffer = buffer.Slice(buffer.End);
                }

                if (read.IsCompleted)
                {
                    if (!skipping && !buffer.IsEmpty && Parse(++line, buffer, fields) is { } last)
                    {
                        yield return last;
                    }

                    yield break;
                }

                pipe.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        finally
        {
            await pipe.CompleteAsync();
        }
    }

    static NdjsonLine? Parse(long line, ReadOnlySequence<byte> text, string?[] fields)
    {
        if (IsBlank(text))
        {
            return null;
        }

        Array.Clear(fields);
        List<string> names = [];
        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return Failed(line, fields, "not_an_object", "Each line is one JSON object.");
            }

            foreach (var property in document.RootElement.EnumerateObject())
            {
                names.Add(property.Name);
                if (ImportColumns.Field(property.Name) is not { } field || fields[(int)field] is not null)
                {
                    continue;
                }

                var value = property.Value;
                fields[(int)field] = value.ValueKind switch
                {
                    JsonValueKind.String => value.GetString() is { Length: > 0 } s ? s.Trim() : null,
                    JsonValueKind.Null => null,
                    JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
                    _ => null,
                };
                if (value.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
                {
                    return Failed(line, fields, "wrong_type", $"\"{property.Name}\" is text, not an object or array.");
                }
            }
        }
        catch (JsonException)
        {
            return Failed(line, fields, "json_invalid", "Not valid JSON in UTF-8.");
        }

        return new NdjsonLine(new SourceRow(line, fields), names, null);
    }

    static NdjsonLine Failed(long line, string?[] fields, string reason, string message)
    {
        var error = new ImportError(line, null, reason, message);
        return new NdjsonLine(new SourceRow(line, fields, error), null, error);
    }

    static bool IsBlank(ReadOnlySequence<byte> text)
    {
        foreach (var segment in text)
        {
            foreach (var b in segment.Span)
            {
                if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r'))
                {
                    return false;
                }
            }
        }

        return true;
    }
}
