using System.Text;

namespace Subscriptions.Api.Tests.Protection.Battery;

/// <summary>Bodies broken in how they are framed or encoded, for any route that takes a body.</summary>
public static class BodyCases
{
    public const string Boundary = "battery";

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    public static string Part(string name, string value) =>
        $"--{Boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n";

    /// <summary>
    /// Multipart bodies that would be valid signups but for one flaw in how they are framed: the
    /// reader must refuse each with a 4xx (the flaw that once gave a 500 was the first one).
    /// Routes that take JSON must refuse them for their type alone.
    /// </summary>
    public static IEnumerable<Case> MalformedMultipart(string route, string method, string path, Expect expect,
        IReadOnlyList<KeyValuePair<string, string>>? headers = null, bool everyTruncation = true)
    {
        const string category = "malformed multipart";
        Case Multipart(string body, string contentType = $"multipart/form-data; boundary={Boundary}", bool chunked = false) =>
            new(category, route, method, path, expect, Utf8(body), contentType, chunked, headers);

        var parts = Part("email", "battery@example.org") + Part("consent", "on") + Part("name", "Battery");
        var valid = parts + $"--{Boundary}--\r\n";

        // every truncation before the closing delimiter is complete, sent with and without a length
        var closing = valid.LastIndexOf($"--{Boundary}--", StringComparison.Ordinal);
        for (var length = 0; length <= closing + Boundary.Length + 3; length += everyTruncation ? 3 : 29)
        {
            yield return Multipart(valid[..length], chunked: length % 2 == 0);
        }

        foreach (var announced in new[] { "other", "batter", "batteryx", "BATTERY", "\"battery \"", "", new string('b', 129) })
        {
            yield return Multipart(valid, $"multipart/form-data; boundary={announced}");
        }

        yield return Multipart(valid, "multipart/form-data");
        yield return Multipart(valid, "multipart/form-data; boundary");
        yield return Multipart(valid.Replace("\r\n", "\n", StringComparison.Ordinal));
        yield return Multipart(valid.Replace($"--{Boundary}\r\n", $"--{Boundary} \r\n", StringComparison.Ordinal).Replace("\r\n", "\r", StringComparison.Ordinal));

        // the address part itself broken: no name, no disposition, not form-data, no blank line, a file
        foreach (var emailPart in new[]
        {
            "Content-Disposition: form-data\r\n\r\nbattery@example.org",
            "Content-Disposition: form-data; name=\"\"\r\n\r\nbattery@example.org",
            "Content-Type: text/plain\r\n\r\nbattery@example.org",
            "Content-Disposition: attachment; name=\"email\"\r\n\r\nbattery@example.org",
            "Content-Disposition: form-data; name=\"email\"\r\nbattery@example.org",
            "Content-Disposition: form-data; name=\"email\"; filename=\"email.txt\"\r\n\r\nbattery@example.org",
            "Content-Disposition: form-data; name=\"email\"; filename*=UTF-8''email.txt\r\n\r\nbattery@example.org",
            "Content-Disposition: form-data; name=email\"\r\n\r\nbattery@example.org",
            "Content-Disposition: form-data; name=\"email\r\n\r\nbattery@example.org",
            $"Content-Disposition: form-data; name=\"email\"\r\nX-Padding: {new string('x', 20_000)}\r\n\r\nbattery@example.org",
        })
        {
            yield return Multipart($"--{Boundary}\r\n{emailPart}\r\n" + Part("consent", "on") + $"--{Boundary}--\r\n");
        }

        // extra parts beside a valid signup: unnamed, files, and very many
        yield return Multipart(parts + $"--{Boundary}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{Boundary}--\r\n");
        yield return Multipart(parts + $"--{Boundary}\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"cv.exe\"\r\nContent-Type: application/octet-stream\r\n\r\nMZ\u0090\r\n--{Boundary}--\r\n");
        yield return Multipart(parts + $"--{Boundary}\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nx\r\n--{Boundary}--\r\n");
        var manyParts = parts + string.Concat(Enumerable.Repeat(Part("x", "1"), 10_000)) + $"--{Boundary}--\r\n";
        yield return Multipart(manyParts);
        yield return Multipart(manyParts, chunked: true);
        var manyFiles = parts + string.Concat(Enumerable.Range(0, 200).Select(i => $"--{Boundary}\r\nContent-Disposition: form-data; name=\"f{i}\"; filename=\"f{i}\"\r\n\r\n\r\n")) + $"--{Boundary}--\r\n";
        yield return Multipart(manyFiles, chunked: true);
    }

    public static readonly string[] Charsets =
    [
        "utf-16", "UTF-16LE", "utf-16be", "utf-32", "iso-8859-1", "latin1", "windows-1252", "us-ascii", "shift_jis", "gb2312", "koi8-r",
        "utf-7", "utf8", "unicode-1-1-utf-8", "\"utf-16\"", "utf-8x", "x-no-such-charset", "*",
    ];

    /// <summary>
    /// <paramref name="body"/> (a request the route would refuse or that changes nothing) declared in
    /// charsets other than UTF-8, as it is and really encoded in them.
    /// </summary>
    public static IEnumerable<Case> WrongCharsets(string route, string method, string path, Expect expect, string mediaType, string body,
        IReadOnlyList<KeyValuePair<string, string>>? headers = null)
    {
        const string category = "wrong and unknown charsets";
        foreach (var charset in Charsets)
        {
            yield return new(category, route, method, path, expect, Utf8(body), $"{mediaType}; charset={charset}", Headers: headers);
        }

        foreach (var (charset, encoding) in new (string, Encoding)[] { ("utf-16", Encoding.Unicode), ("utf-16be", Encoding.BigEndianUnicode), ("utf-32", Encoding.UTF32), ("iso-8859-1", Encoding.Latin1) })
        {
            yield return new(category, route, method, path, expect, [.. encoding.GetPreamble(), .. encoding.GetBytes(body)], $"{mediaType}; charset={charset}", Headers: headers);
            yield return new(category, route, method, path, expect, encoding.GetBytes(body), $"{mediaType}; charset={charset}", Headers: headers);
        }
    }
}
