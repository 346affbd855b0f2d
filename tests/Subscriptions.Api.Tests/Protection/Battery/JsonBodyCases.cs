using System.Text;

namespace Subscriptions.Api.Tests.Protection.Battery;

/// <summary>
/// Hostile variations of one JSON body the route answers with a 4xx even when it is valid (a
/// taken slug, an unknown list), so that no variation the route accepts can store anything.
/// </summary>
public sealed record JsonBody(string Route, string Method, string Path, IReadOnlyList<KeyValuePair<string, string>> Headers, (string Field, string Json)[] Fields)
{
    /// <summary>Strings of a field that would be accepted and store something: left out (the slug of a new list).</summary>
    public Func<string, string, bool> Storable { get; init; } = (_, _) => false;

    public static readonly string[] WrongTypes = ["12345", "{\"a\":1}", "[[1]]", "1.5e300", "false", "[]", "\"x\"", "-0", "[null]"];

    public static readonly string[] HostileStrings =
    [
        "\0", "a\u0000b", "\u0007", "\u001b[31m", "\ud800", "\udfff", "' OR '1'='1", "'; DROP TABLE lists; --", "a\r\nBcc: x@y.z",
        "<script>alert(1)</script>", "\u202eevil", "\u200b", "", "   ", "null", "\U0001F4F0", new string('x', 15_000), new string('x', 100_000),
        "https://127.0.0.1:9/\u0000", "javascript:alert(1)", "../../etc/passwd", "${jndi:ldap://127.0.0.1/x}", "{{7*7}}",
    ];

    string Render(string? field = null, string? json = null) =>
        "{" + string.Join(",", Fields.Select(f => $"\"{f.Field}\":{(f.Field == field ? json : f.Json)}")) + "}";

    Case Json(string category, string body, string contentType = "application/json", bool chunked = false) =>
        new(category, Route, Method, Path, Expect.Problem, BodyCases.Utf8(body), contentType, chunked, Headers);

    public IEnumerable<Case> Cases()
    {
        var valid = Render();

        // every proper prefix, and malformed JSON
        for (var length = 0; length < valid.Length; length += 2)
        {
            yield return Json("truncated JSON", valid[..length]);
        }

        foreach (var body in new[] { "{", "}", "[", "{\"slug\"", "{\"slug\":}", "{'slug':'x'}", "{slug:\"x\"}", valid[..^1] + ",}", "nul", "NaN", "\"\\ud800\"", valid + valid, "null", "[]", "0", "\"\"", valid + "x", "\uFEFF" + valid + "\uFEFF" })
        {
            yield return Json("malformed JSON", body);
        }

        foreach (var (field, _) in Fields)
        {
            foreach (var value in WrongTypes.Where(v => !Storable(field, v.Trim('"'))))
            {
                yield return Json("wrong JSON types", Render(field, value));
            }

            foreach (var value in HostileStrings.Where(v => !Storable(field, v)))
            {
                var encoded = Quote(value);
                yield return Json("hostile strings", Render(field, encoded));
                yield return Json("hostile strings", Render(field, $"[{encoded}]"));
            }

            // invalid UTF-8 inside the string
            foreach (var bytes in new byte[][] { [0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82] })
            {
                var prefix = Encoding.UTF8.GetBytes(Render(field, "\"a"));
                var cut = Array.LastIndexOf(prefix, (byte)'a') + 1;
                var suffix = Encoding.UTF8.GetBytes(Render(field, "\"a\""))[cut..];
                yield return new("invalid UTF-8", Route, Method, Path, Expect.Problem, [.. prefix[..cut], .. bytes, .. suffix], "application/json", Headers: Headers);
            }
        }

        // a property twice (the last one that counts is the harmless one), and properties in other cases
        foreach (var (field, json) in Fields)
        {
            yield return Json("repeated and missing fields", Render(field, "\"\\u0000\"," + $"\"{field}\":{json}"));
            yield return Json("repeated and missing fields", "{" + string.Join(",", Fields.Where(f => f.Field != field).Select(f => $"\"{f.Field}\":{f.Json}")) + "}");
        }

        foreach (var depth in new[] { 64, 1_000, 5_000 })
        {
            yield return Json("deep JSON", Render(Fields[0].Field, new string('[', depth) + new string(']', depth)));
        }

        var tenMegabytes = new string('a', 10 * 1024 * 1024);
        yield return Json("10 MB bodies", Render(Fields[0].Field, $"\"{tenMegabytes}\""));
        yield return Json("10 MB bodies", Render(Fields[0].Field, $"\"{tenMegabytes}\""), chunked: true);
        yield return Json("10 MB bodies", "[" + string.Join(",", Enumerable.Repeat("1", 5 * 1024 * 1024)) + "]");
        yield return Json("10 MB bodies", Render(Fields[0].Field, $"\"{new string('a', 32 * 1024 * 1024)}\""), chunked: true);

        foreach (var type in new[] { "text/plain", "application/xml", "text/html", "application/octet-stream", "application/x-www-form-urlencoded", "application/jsonx", "json", "application/*", "*/*", "" })
        {
            yield return Json("wrong content types", valid, type);
        }

        yield return new("wrong content types", Route, Method, Path, Expect.Problem, BodyCases.Utf8(valid), null, Headers: Headers);
        yield return new("wrong content types", Route, Method, Path, Expect.Problem, Headers: Headers);

        foreach (var c in BodyCases.MalformedMultipart(Route, Method, Path, Expect.Problem, Headers, everyTruncation: false)
            .Concat(BodyCases.WrongCharsets(Route, Method, Path, Expect.Problem, "application/json", valid, Headers)))
        {
            yield return c;
        }
    }

    /// <summary>A JSON string literal that keeps what a serializer would refuse to write (lone surrogates) as escapes.</summary>
    public static string Quote(string value) =>
        "\"" + string.Concat(value.Select(c => c is < ' ' or '"' or '\\' || char.IsSurrogate(c) ? $"\\u{(int)c:x4}" : c.ToString())) + "\"";
}
