using System.Buffers;
using System.Text.Json;
using static Subscriptions.Api.Admin.ExportQuery;

namespace Subscriptions.Api.Admin;

/// <summary>
/// Export rows as NDJSON: one JSON object a line, written by Utf8JsonWriter (which escapes) from
/// the UTF-8 bytes of the COPY buffer, no string per field. NULL stays null; suppressed is a boolean.
/// </summary>
public sealed class ExportNdjson(IBufferWriter<byte> body) : IDisposable
{
    static readonly JsonEncodedText[] Names = [.. Header.Select(name => JsonEncodedText.Encode(name))];

    // The text columns that follow consent_at, in order, up to locale.
    static readonly int[] TextColumns = [ConsentIp, ConsentUserAgent, ConsentSource, ConsentTextVersion, ConsentTextLanguage, UtmSource, UtmMedium, UtmCampaign, Locale];

    readonly Utf8JsonWriter _json = new(body);

    public void WriteRow(BinaryCopyRows rows, int row, ReadOnlySpan<byte> unsubscribeUrl, ReadOnlySpan<byte> manageUrl)
    {
        var name = 0;
        Span<byte> text = stackalloc byte[TimestampLength];
        _json.WriteStartObject();
        Text(Names[name++], rows, row, Email);
        Text(Names[name++], rows, row, Name);
        Text(Names[name++], rows, row, List);
        Text(Names[name++], rows, row, Status);
        for (var column = SignedUpAt; column <= ConsentAt; column++)
        {
            if (rows.IsNull(row, column))
            {
                _json.WriteNull(Names[name++]);
                continue;
            }

            _json.WriteString(Names[name++], text[..Timestamp(rows.Int64(row, column), text)]);
        }

        foreach (var column in TextColumns)
        {
            Text(Names[name++], rows, row, column);
        }

        _json.WriteString(Names[name++], unsubscribeUrl);
        _json.WriteBoolean(Names[name++], !rows.IsNull(row, SuppressedReason));
        Text(Names[name++], rows, row, SuppressedReason);
        _json.WriteString(Names[name], manageUrl);
        _json.WriteEndObject();
        _json.Flush();
        _json.Reset();
        body.Write("\n"u8);
    }

    void Text(JsonEncodedText name, BinaryCopyRows rows, int row, int column)
    {
        if (rows.IsNull(row, column))
        {
            _json.WriteNull(name);
        }
        else
        {
            _json.WriteString(name, rows.Field(row, column));
        }
    }

    public void Dispose() => _json.Dispose();
}
