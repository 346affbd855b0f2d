using System.Buffers;
using static Subscriptions.Api.Admin.ExportQuery;

namespace Subscriptions.Api.Admin;

/// <summary>
/// Export rows as CSV, written as UTF-8 bytes straight from the COPY buffer into the response.
/// The rules are those CsvHelper's writer applied here before (ExportCsvTests compares the two byte
/// for byte): RFC 4180 — a field holding a comma, a quote, CR or LF is quoted, its quotes doubled,
/// records end with CRLF — and formula neutralization: spreadsheets run a cell that starts with
/// = + - @ tab or CR as a formula (OWASP "CSV injection"), so such a field gets a ' in front and
/// is quoted. CsvHelper needs a string or char span per field; this writes the bytes as they came.
/// </summary>
public static class ExportCsv
{
    static readonly SearchValues<byte> Special = SearchValues.Create(",\"\r\n"u8);

    static readonly byte[] HeaderLine = System.Text.Encoding.UTF8.GetBytes(string.Join(',', Header) + "\r\n");

    public static void WriteHeader(IBufferWriter<byte> body) => body.Write(HeaderLine);

    public static void WriteRow(IBufferWriter<byte> body, BinaryCopyRows rows, int row, ReadOnlySpan<byte> unsubscribeUrl, ReadOnlySpan<byte> manageUrl)
    {
        // the most a row can take: every byte doubled, quotes, a ' and a comma per field
        var most = 2 * (unsubscribeUrl.Length + manageUrl.Length + 4 * TimestampLength) + 4 * Header.Length + 16;
        for (var column = Email; column < Columns; column++)
        {
            most += 2 * rows.Field(row, column).Length;
        }

        var span = body.GetSpan(most);
        var n = Field(span, rows.Field(row, Email));
        span[n++] = (byte)',';
        n += Field(span[n..], rows.Field(row, Name));
        span[n++] = (byte)',';
        n += Field(span[n..], rows.Field(row, List));
        span[n++] = (byte)',';
        n += Field(span[n..], rows.Field(row, Status));
        span[n++] = (byte)',';
        n += Time(span[n..], rows, row, SignedUpAt);
        span[n++] = (byte)',';
        n += Time(span[n..], rows, row, ConfirmedAt);
        span[n++] = (byte)',';
        n += Time(span[n..], rows, row, UnsubscribedAt);
        span[n++] = (byte)',';
        n += Time(span[n..], rows, row, ConsentAt);
        for (var column = ConsentIp; column <= Locale; column++)
        {
            span[n++] = (byte)',';
            n += Field(span[n..], rows.Field(row, column));
        }

        span[n++] = (byte)',';
        n += Field(span[n..], unsubscribeUrl);
        span[n++] = (byte)',';
        n += Field(span[n..], rows.IsNull(row, SuppressedReason) ? "false"u8 : "true"u8);
        span[n++] = (byte)',';
        n += Field(span[n..], rows.Field(row, SuppressedReason));
        span[n++] = (byte)',';
        n += Field(span[n..], manageUrl);
        span[n++] = (byte)'\r';
        span[n++] = (byte)'\n';
        body.Advance(n);
    }

    static int Time(Span<byte> destination, BinaryCopyRows rows, int row, int column)
    {
        if (rows.IsNull(row, column))
        {
            return 0;
        }

        // through Field like any text: "-infinity" starts with a minus
        Span<byte> text = stackalloc byte[TimestampLength];
        return Field(destination, text[..Timestamp(rows.Int64(row, column), text)]);
    }

    /// <summary>Writes one field by the rules above; returns the bytes written (at most 2 × length + 3).</summary>
    public static int Field(Span<byte> destination, ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return 0;
        }

        var formula = value[0] is (byte)'=' or (byte)'+' or (byte)'-' or (byte)'@' or (byte)'\t' or (byte)'\r';
        if (!formula && !value.ContainsAny(Special))
        {
            value.CopyTo(destination);
            return value.Length;
        }

        var n = 0;
        destination[n++] = (byte)'"';
        if (formula)
        {
            destination[n++] = (byte)'\'';
        }

        while (value.IndexOf((byte)'"') is var quote and >= 0)
        {
            value[..(quote + 1)].CopyTo(destination[n..]);
            n += quote + 1;
            destination[n++] = (byte)'"';
            value = value[(quote + 1)..];
        }

        value.CopyTo(destination[n..]);
        n += value.Length;
        destination[n++] = (byte)'"';
        return n;
    }
}
