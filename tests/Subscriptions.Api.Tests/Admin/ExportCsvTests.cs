using System.Globalization;
using System.Text;
using CsvHelper;
using Subscriptions.Api.Admin;

namespace Subscriptions.Api.Tests.Admin;

/// <summary>
/// The export writes CSV bytes itself; CsvHelper, which it replaced, is the reference it must match
/// byte for byte (RFC 4180 quoting, formula neutralization), and DateTime's formatter the reference
/// for its timestamps.
/// </summary>
public class ExportCsvTests
{
    static readonly CsvWriterOptions CsvHelperRules = CsvWriterOptions.Default with
    {
        Injection = CsvInjection.Escape,
        FormatProvider = CultureInfo.InvariantCulture,
    };

    public static TheoryData<string> HostileValues() =>
    [
        "=HYPERLINK(\"http://evil.example\",\"click\")", "+1+1", "-2+3", "@SUM(A1:A2)", "\tTab first", "\rCR first",
        "a,b", "say \"hi\"", "\"", "\"=quoted formula\"", "line\nbreak", "cr\rlf\r\n", ",", " =space first",
        "'=already quoted", "x=1", "\n=after a newline", "non-BMP 😀 𝄞 and é", "😀,😀", "-", "=", "plain",
    ];

    static byte[] CsvHelperRecord(string value)
    {
        var stream = new MemoryStream();
        using (var csv = CsvWriter.Create(stream, CsvHelperRules, leaveOpen: true))
        {
            csv.WriteField(value);
            csv.WriteField("next");
            csv.EndRecordAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
            csv.FlushAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        }

        return stream.ToArray();
    }

    static byte[] ExportRecord(string value)
    {
        var utf8 = Encoding.UTF8.GetBytes(value);
        var buffer = new byte[2 * utf8.Length + 16];
        var n = ExportCsv.Field(buffer, utf8);
        return [.. buffer.AsSpan(0, n), .. ",next\r\n"u8];
    }

    [Theory]
    [MemberData(nameof(HostileValues))]
    public void A_hostile_field_is_written_as_CsvHelper_writes_it(string value)
    {
        Assert.Equal(Encoding.UTF8.GetString(CsvHelperRecord(value)), Encoding.UTF8.GetString(ExportRecord(value)));
    }

    [Fact]
    public void Random_fields_of_quotes_separators_formula_signs_and_non_BMP_characters_match_CsvHelper()
    {
        string[] pieces = ["=", "+", "-", "@", "\t", "\r", "\n", "\"", ",", " ", "'", ";", "a", "Z", "é", "😀", "\u2028"];
        var random = new Random(16);
        for (var i = 0; i < 20_000; i++)
        {
            var value = string.Concat(Enumerable.Range(0, random.Next(1, 9)).Select(_ => pieces[random.Next(pieces.Length)]));
            Assert.True(CsvHelperRecord(value).AsSpan().SequenceEqual(ExportRecord(value)), $"differs for {value.Replace("\r", "\\r").Replace("\n", "\\n")}");
        }
    }

    [Fact]
    public void Timestamps_read_as_DateTime_formats_them_to_the_microsecond()
    {
        var epoch = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var random = new Random(16);
        var times = new List<DateTime> { DateTime.MinValue, DateTime.MaxValue.AddTicks(-9), epoch, epoch.AddTicks(-10), new(2026, 12, 2, 13, 24, 0, 123, 456, DateTimeKind.Utc) };
        for (var i = 0; i < 10_000; i++)
        {
            times.Add(new DateTime(random.NextInt64(DateTime.MinValue.Ticks, DateTime.MaxValue.Ticks) / 10 * 10, DateTimeKind.Utc));
        }

        Span<byte> text = stackalloc byte[ExportQuery.TimestampLength];
        foreach (var time in times)
        {
            var written = ExportQuery.Timestamp((time - epoch).Ticks / TimeSpan.TicksPerMicrosecond, text);
            Assert.Equal(time.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture), Encoding.ASCII.GetString(text[..written]));
        }
    }

    [Fact]
    public void Infinite_timestamps_keep_their_PostgreSQL_names_and_minus_infinity_is_neutralized_in_CSV()
    {
        Span<byte> text = stackalloc byte[ExportQuery.TimestampLength];
        Assert.Equal("infinity", Encoding.ASCII.GetString(text[..ExportQuery.Timestamp(long.MaxValue, text)]));
        Assert.Equal("-infinity", Encoding.ASCII.GetString(text[..ExportQuery.Timestamp(long.MinValue, text)]));
        Assert.Equal("\"'-infinity\",next\r\n", Encoding.UTF8.GetString(ExportRecord("-infinity")));
    }
}
