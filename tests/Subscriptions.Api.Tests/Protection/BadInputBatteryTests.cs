using System.Net;
using System.Text;
using Subscriptions.Api.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Subscriptions.Api.Tests.Protection;

/// <summary>
/// Several hundred generated requests no form would send, in categories. Every one must get a
/// 4xx, and none may store anything. The table of what each category got is printed.
/// </summary>
public class BadInputBatteryTests(ApiFixture fixture, ITestOutputHelper output) : ApiTest(fixture)
{
    sealed record Case(string Category, string Method, byte[]? Body, string? ContentType, bool Chunked = false);

    static readonly string[] Fields = ["email", "consent", "name", "locale", "lists", "source"];

    const string Valid = """{"email":"battery@example.org","consent":true,"name":"Battery","locale":"en","lists":["news"],"source":"https://news.example/a"}""";

    static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    static Case Json(string category, string body) => new(category, "POST", Utf8(body), "application/json");

    static Case Form(string category, string body) => new(category, "POST", Utf8(body), "application/x-www-form-urlencoded");

    /// <summary>
    /// A JSON body whose <paramref name="field"/> holds <paramref name="rawValue"/>. Consent is
    /// withheld unless the field under test is the email or the consent itself, so no case can
    /// be a valid signup however harmless the value.
    /// </summary>
    static string JsonWith(string field, string rawValue) => field switch
    {
        "email" => $$"""{"email":{{rawValue}},"consent":true}""",
        "consent" => $$"""{"email":"battery@example.org","consent":{{rawValue}}}""",
        _ => $$"""{"email":"battery@example.org","consent":false,"{{field}}":{{rawValue}}}""",
    };

    static string FormWith(string field, string encodedValue) =>
        (field == "consent" ? "email=battery%40example.org" : field == "email" ? "consent=on" : "email=battery%40example.org&consent=no")
        + $"&{(field == "lists" ? "list" : field)}={encodedValue}";

    const string Boundary = "battery";

    static string Part(string name, string value) =>
        $"--{Boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n";

    static Case Multipart(string category, string body, string contentType = $"multipart/form-data; boundary={Boundary}", bool chunked = false) =>
        new(category, "POST", Utf8(body), contentType, chunked);

    /// <summary>
    /// Multipart bodies that would be valid signups but for one flaw in how they are framed: the
    /// reader must refuse each with a 4xx (the flaw that once gave a 500 was the first one).
    /// </summary>
    static IEnumerable<Case> MalformedMultipart()
    {
        const string category = "malformed multipart";
        var parts = Part("email", "battery@example.org") + Part("consent", "on") + Part("name", "Battery");
        var valid = parts + $"--{Boundary}--\r\n";

        // every truncation before the closing delimiter is complete, sent with and without a length
        var closing = valid.LastIndexOf($"--{Boundary}--", StringComparison.Ordinal);
        for (var length = 0; length <= closing + Boundary.Length + 3; length += 3)
        {
            yield return Multipart(category, valid[..length], chunked: length % 2 == 0);
        }

        foreach (var announced in new[] { "other", "batter", "batteryx", "BATTERY", "\"battery \"", "", new string('b', 129) })
        {
            yield return Multipart(category, valid, $"multipart/form-data; boundary={announced}");
        }

        yield return Multipart(category, valid, "multipart/form-data");
        yield return Multipart(category, valid, "multipart/form-data; boundary");
        yield return Multipart(category, valid.Replace("\r\n", "\n", StringComparison.Ordinal));
        yield return Multipart(category, valid.Replace($"--{Boundary}\r\n", $"--{Boundary} \r\n", StringComparison.Ordinal).Replace("\r\n", "\r", StringComparison.Ordinal));

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
            yield return Multipart(category, $"--{Boundary}\r\n{emailPart}\r\n" + Part("consent", "on") + $"--{Boundary}--\r\n");
        }

        // extra parts beside a valid signup: unnamed, files, and very many
        yield return Multipart(category, parts + $"--{Boundary}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{Boundary}--\r\n");
        yield return Multipart(category, parts + $"--{Boundary}\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"cv.exe\"\r\nContent-Type: application/octet-stream\r\n\r\nMZ\u0090\r\n--{Boundary}--\r\n");
        yield return Multipart(category, parts + $"--{Boundary}\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nx\r\n--{Boundary}--\r\n");
        var manyParts = parts + string.Concat(Enumerable.Repeat(Part("x", "1"), 10_000)) + $"--{Boundary}--\r\n";
        yield return Multipart(category, manyParts);
        yield return Multipart(category, manyParts, chunked: true);
        var manyFiles = parts + string.Concat(Enumerable.Range(0, 200).Select(i => $"--{Boundary}\r\nContent-Disposition: form-data; name=\"f{i}\"; filename=\"f{i}\"\r\n\r\n\r\n")) + $"--{Boundary}--\r\n";
        yield return Multipart(category, manyFiles, chunked: true);
    }

    /// <summary>Valid signups in every body type, declared in a charset other than UTF-8: each is refused (415), never guessed at.</summary>
    static IEnumerable<Case> WrongCharsets()
    {
        const string category = "wrong and unknown charsets";
        var form = "email=battery%40example.org&consent=on";
        var multipart = Part("email", "battery@example.org") + Part("consent", "on") + $"--{Boundary}--\r\n";
        foreach (var charset in new[] { "utf-16", "UTF-16LE", "utf-16be", "utf-32", "iso-8859-1", "latin1", "windows-1252", "us-ascii", "shift_jis", "gb2312", "koi8-r", "utf-7", "utf8", "unicode-1-1-utf-8", "\"utf-16\"", "utf-8x", "x-no-such-charset", "*" })
        {
            yield return new(category, "POST", Utf8(Valid), $"application/json; charset={charset}");
            yield return new(category, "POST", Utf8(form), $"application/x-www-form-urlencoded; charset={charset}");
            yield return new(category, "POST", Utf8(multipart), $"multipart/form-data; boundary={Boundary}; charset={charset}");
        }

        // bodies really in the charset they declare
        foreach (var (charset, encoding) in new (string, Encoding)[] { ("utf-16", Encoding.Unicode), ("utf-16be", Encoding.BigEndianUnicode), ("utf-32", Encoding.UTF32), ("iso-8859-1", Encoding.Latin1) })
        {
            yield return new(category, "POST", [.. encoding.GetPreamble(), .. encoding.GetBytes(Valid)], $"application/json; charset={charset}");
            yield return new(category, "POST", encoding.GetBytes(form), $"application/x-www-form-urlencoded; charset={charset}");
        }
    }

    static IEnumerable<Case> Cases()
    {
        foreach (var c in MalformedMultipart().Concat(WrongCharsets()))
        {
            yield return c;
        }

        // malformed and truncated JSON: every proper prefix of a valid body
        for (var length = 0; length < Valid.Length; length++)
        {
            yield return Json("truncated JSON", Valid[..length]);
        }

        foreach (var body in new[] { "{", "}", "[", "{\"email\"", "{\"email\":}", "{'email':'a@b.c'}", "{email:\"a@b.c\"}", "{\"email\":\"a@b.c\",}", "nul", "NaN", "\"\\ud800\"", "{\"a\":1}{\"b\":2}" })
        {
            yield return Json("malformed JSON", body);
        }

        // wrong types in every field
        foreach (var field in Fields)
        {
            foreach (var value in new[] { "12345", "{\"a\":1}", "[[1]]", "1.5e300", "false", "[\"news\", 7]" })
            {
                yield return Json("wrong JSON types", JsonWith(field, value));
            }
        }

        // huge strings: over the body cap, and just under it
        foreach (var field in Fields)
        {
            yield return Json("huge strings", JsonWith(field, $"\"{new string('x', 100_000)}\""));
            yield return Json("huge strings", JsonWith(field, $"\"{new string('x', 15_000)}\""));
            yield return Form("huge strings", FormWith(field, new string('x', 15_000)));
        }

        // invalid UTF-8 inside JSON strings and form values
        byte[][] badUtf8 = [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xfe, 0xfe, 0xff]];
        foreach (var field in Fields)
        {
            foreach (var bytes in badUtf8)
            {
                var json = Utf8(JsonWith(field, "\"a@b.co\"")).ToList();
                json.InsertRange(json.IndexOf((byte)'@') + 1, bytes);
                yield return new("invalid UTF-8", "POST", [.. json], "application/json");
                yield return Form("invalid UTF-8", FormWith(field, "a" + string.Concat(bytes.Select(b => $"%{b:X2}"))));
            }
        }

        // NUL and control characters, escaped in JSON and percent-encoded in forms
        foreach (var field in Fields)
        {
            foreach (var c in new[] { 0x00, 0x01, 0x07, 0x08, 0x0b, 0x0c, 0x1b, 0x1f, 0x7f, 0x85, 0x9f })
            {
                yield return Json("NUL and control chars", JsonWith(field, $"\"battery\\u{c:x4}@example.org\""));
                yield return Form("NUL and control chars", FormWith(field, $"battery{Uri.EscapeDataString(((char)c).ToString())}%40example.org"));
            }
        }

        // SQL injection
        foreach (var field in Fields)
        {
            foreach (var sql in new[] { "' OR '1'='1", "'; DROP TABLE subscribers; --", "\\\" OR 1=1 --", "1); DELETE FROM lists; --", "news' UNION SELECT email FROM subscribers --" })
            {
                yield return Json("SQL injection", JsonWith(field, field == "lists" ? $"[\"{sql}\"]" : $"\"{sql}\""));
                yield return Form("SQL injection", FormWith(field, Uri.EscapeDataString(sql)));
            }
        }

        // header injection in every field
        foreach (var field in Fields)
        {
            foreach (var injection in new[] { "a@b.com\r\nBcc: x@y.z", "a@b.com\nSubject: spam", "a@b.com%0d%0aBcc:x@y.z" })
            {
                yield return Json("header injection", JsonWith(field, System.Text.Json.JsonSerializer.Serialize(injection)));
                yield return Form("header injection", FormWith(field, Uri.EscapeDataString(injection)));
            }
        }

        // Unicode confusables and lookalike separators (withheld consent keeps even valid-looking ones out)
        foreach (var email in new[] { "ann＠example.com", "ann﹫example.com", "аnn@exаmple.com", "ann@example。com", "ann@exam\u200bple.com", "ann@ex\u00adample.com", "ann@example.com\u202e", "ᴀɴɴ@example.com" })
        {
            yield return Json("Unicode confusables", $$"""{"email":{{System.Text.Json.JsonSerializer.Serialize(email)}},"consent":false}""");
            yield return Form("Unicode confusables", $"email={Uri.EscapeDataString(email)}");
        }

        // 10 MB bodies, with and without Content-Length
        var tenMegabytes = new string('a', 10 * 1024 * 1024);
        yield return Json("10 MB bodies", $$"""{"email":"{{tenMegabytes}}","consent":true}""");
        yield return Form("10 MB bodies", $"email={tenMegabytes}&consent=on");
        yield return new("10 MB bodies", "POST", Utf8(tenMegabytes), "multipart/form-data; boundary=x");
        yield return new("10 MB bodies", "POST", Utf8($$"""{"name":"{{tenMegabytes}}"}"""), "application/json", Chunked: true);
        yield return new("10 MB bodies", "POST", Utf8($"name={tenMegabytes}"), "application/x-www-form-urlencoded", Chunked: true);

        // repeated and missing fields
        foreach (var field in Fields)
        {
            yield return Json("repeated and missing fields", $$"""{"email":"battery@example.org","consent":true,"{{field}}":null,"{{field}}":null}""");
        }

        foreach (var field in new[] { "email", "consent", "name", "locale", "source" })
        {
            yield return Form("repeated and missing fields", $"email=battery%40example.org&consent=on&{field}=a&{field}=b");
        }

        foreach (var body in new[] { "{}", "{\"consent\":true}", "{\"email\":\"battery@example.org\"}", "{\"email\":null,\"consent\":null}" })
        {
            yield return Json("repeated and missing fields", body);
        }

        foreach (var body in new[] { "", "consent=on", "email=battery%40example.org", "email=&consent=" })
        {
            yield return Form("repeated and missing fields", body);
        }

        // deep JSON
        foreach (var depth in new[] { 9, 64, 1000, 5000 })
        {
            yield return Json("deep JSON", $"{{\"email\":{new string('[', depth)}{new string(']', depth)},\"consent\":true}}");
        }

        // wrong content types and methods
        foreach (var type in new[] { "text/plain", "application/xml", "text/html", "application/octet-stream", "application/jsonp", "multipart/mixed; boundary=x", "image/png", "application/x-www-form-urlencodedx" })
        {
            yield return new("wrong content types", "POST", Utf8(Valid), type);
        }

        yield return new("wrong content types", "POST", Utf8(Valid), null);
        foreach (var method in new[] { "GET", "PUT", "PATCH", "DELETE", "HEAD", "TRACE", "OPTIONS" })
        {
            yield return new("wrong methods", method, method is "GET" or "HEAD" or "TRACE" ? null : Utf8(Valid), method is "GET" or "HEAD" or "TRACE" ? null : "application/json");
        }

        // random bytes, reproducibly
        var random = new Random(20261124);
        for (var i = 0; i < 120; i++)
        {
            var bytes = new byte[random.Next(1, 2000)];
            random.NextBytes(bytes);
            yield return new("random bytes", "POST", bytes, i % 2 == 0 ? "application/json" : "application/x-www-form-urlencoded");
        }
    }

    [Fact]
    public async Task Every_bad_request_gets_a_4xx_and_nothing_is_stored()
    {
        var cases = Cases().ToList();
        Assert.True(cases.Count >= 500, $"{cases.Count} cases");

        var results = new List<(Case Case, int Status)>();
        foreach (var chunk in cases.Chunk(8))
        {
            results.AddRange(await Task.WhenAll(chunk.Select(async c => (c, await SendAsync(c)))));
        }

        output.WriteLine($"{"category",-30} {"requests",8}  statuses");
        foreach (var category in results.GroupBy(r => r.Case.Category))
        {
            var statuses = string.Join(", ", category.GroupBy(r => r.Status).OrderBy(g => g.Key).Select(g => $"{g.Key}×{g.Count()}"));
            output.WriteLine($"{category.Key,-30} {category.Count(),8}  {statuses}");
        }

        output.WriteLine($"{"all",-30} {results.Count,8}");
        Assert.Empty(results.Where(r => r.Status is < 400 or > 499).Select(r =>
            $"{r.Status} for {r.Case.Category}: {r.Case.Method} {r.Case.ContentType} {Encoding.UTF8.GetString(r.Case.Body ?? [])[..Math.Min(120, r.Case.Body?.Length ?? 0)]}"));
        Assert.Equal(0, await Scalar<long>("""
            SELECT (SELECT count(*) FROM subscribers) + (SELECT count(*) FROM subscriptions)
                 + (SELECT count(*) FROM subscription_events) + (SELECT count(*) FROM outbox)
            """));
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM lists WHERE slug = 'news'"));
    }

    async Task<int> SendAsync(Case c)
    {
        using var request = new HttpRequestMessage(new HttpMethod(c.Method), "/api/subscriptions");
        if (c.Body is not null)
        {
            request.Content = c.Chunked ? new StreamContent(new MemoryStream(c.Body)) : new ByteArrayContent(c.Body);
            if (c.ContentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", c.ContentType);
            }
        }

        // As browsers and curl do for large uploads: the server can refuse before the body is sent.
        request.Headers.ExpectContinue = c.Body?.Length > 64 * 1024;
        using var response = await Client.SendAsync(request);
        return (int)response.StatusCode;
    }
}
