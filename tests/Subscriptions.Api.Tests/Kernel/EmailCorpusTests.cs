using System.Globalization;
using System.Text;
using Subscriptions.Api.Kernel;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Kernel;

/// <summary>
/// The shared corpus of addresses from public validators' test suites, read from ../shared at
/// run time (it is other projects' material and is not copied into this repository).
/// </summary>
public class EmailCorpusTests
{
    static readonly string CorpusFile = Path.Combine(RepositoryPaths.Shared, "testdata", "email-addresses.tsv");

    public static TheoryData<int, string, string, string> Rows()
    {
        var data = new TheoryData<int, string, string, string>();
        var path = CorpusFile;
        if (!File.Exists(path))
        {
            data.Add(0, "", "", "corpus not found");
            return data;
        }

        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.StartsWith('#') || line.StartsWith("address\t", StringComparison.Ordinal) || line.Length == 0)
            {
                continue;
            }

            var columns = line.Split('\t');
            data.Add(lineNumber, Unescape(columns[0]), columns[1], columns[4]);
        }

        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Rows))]
    public void Address_gets_the_verdict_the_corpus_gives(int line, string address, string verdict, string note)
    {
        Skip.If(line == 0, $"{CorpusFile} is not beside the repository (../shared): the corpus test cannot run here.");

        var accepted = EmailAddress.TryNormalize(address, out _);

        Assert.True(accepted == (verdict == "valid"),
            $"line {line}: {Escape(address)} should be {verdict} ({note}) but was {(accepted ? "accepted" : "refused")}");
    }

    /// <summary>Addresses of our own beside the corpus: the ones the hygiene rules were written for.</summary>
    static readonly string[] OwnCases =
    [
        "reader@news\u200B.example", "reader@news.example\u202E", "reader@ex\u0430mple.com", "info@例え.テスト",
        "info@中文域名.cn", "info@ㄅㄆ中文.tw", "info@한국漢字abc.kr", "info@пример.рф", "jörg@müller.example",
        "☃@example.com", "{a}|`~@example.com", "=?utf-8?q?a?=@example.com", "a@xn--80ak6aa92e.com",
    ];

    /// <summary>
    /// The dispatcher gives the address as typed (trimmed, NFC) to MimeKit; one it cannot parse
    /// would be dead-lettered after the reader was told to check their inbox.
    /// </summary>
    [SkippableFact]
    public void Every_address_the_service_accepts_parses_with_MimeKit()
    {
        Skip.IfNot(File.Exists(CorpusFile), $"{CorpusFile} is not beside the repository (../shared): the corpus test cannot run here.");
        var addresses = Rows().Select(row => (string)row[1]).Concat(OwnCases).ToList();

        var accepted = addresses.Where(address => EmailAddress.TryNormalize(address, out _)).ToList();

        Assert.True(accepted.Count > 100, $"only {accepted.Count} of {addresses.Count} addresses accepted");
        Assert.Empty(accepted.Where(address =>
            !MimeKit.MailboxAddress.TryParse(address.Trim().Normalize(), out var mailbox) || !mailbox.Address.Contains('@', StringComparison.Ordinal))
            .Select(Escape));
    }

    // The corpus escapes \\ \t \n \r \xHH \uHHHH \UHHHHHHHH.
    static string Unescape(string value)
    {
        var sb = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] != '\\' || i + 1 == value.Length)
            {
                sb.Append(value[i]);
                continue;
            }

            var kind = value[++i];
            switch (kind)
            {
                case '\\': sb.Append('\\'); break;
                case 't': sb.Append('\t'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 'x' or 'u' or 'U':
                    var digits = kind switch { 'x' => 2, 'u' => 4, _ => 8 };
                    sb.Append(char.ConvertFromUtf32(int.Parse(value.AsSpan(i + 1, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
                    i += digits;
                    break;
                default: sb.Append('\\').Append(kind); break;
            }
        }

        return sb.ToString();
    }

    static string Escape(string value) =>
        string.Concat(value.Select(c => c is < ' ' or > '~' ? $"\\u{(int)c:X4}" : c.ToString()));
}
