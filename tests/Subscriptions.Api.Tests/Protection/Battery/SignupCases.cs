using System.Text;
using static Subscriptions.Api.Tests.Protection.Battery.BodyCases;

namespace Subscriptions.Api.Tests.Protection.Battery;

/// <summary>The signup, whose bodies come from anyone's form or script: every field given what no form would send.</summary>
public static class SignupCases
{
    public const string Route = "/api/subscriptions";

    static readonly string[] Fields = ["email", "consent", "name", "locale", "lists", "source"];

    const string Valid = """{"email":"battery@example.org","consent":true,"name":"Battery","locale":"en","lists":["news"],"source":"https://news.example/a"}""";

    static Case Json(string category, string body) => new(category, Route, "POST", Route, Expect.Refused, Utf8(body), "application/json");

    static Case Form(string category, string body) => new(category, Route, "POST", Route, Expect.Refused, Utf8(body), "application/x-www-form-urlencoded");

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

    public static IEnumerable<Case> Cases()
    {
        foreach (var c in BodyCases.MalformedMultipart(Route, "POST", Route, Expect.Refused))
        {
            yield return c;
        }

        // valid signups in every body type, declared in a charset other than UTF-8: each is refused (415), never guessed at
        var multipart = BodyCases.Part("email", "battery@example.org") + BodyCases.Part("consent", "on") + $"--{BodyCases.Boundary}--\r\n";
        foreach (var c in BodyCases.WrongCharsets(Route, "POST", Route, Expect.Refused, "application/json", Valid)
            .Concat(BodyCases.WrongCharsets(Route, "POST", Route, Expect.Refused, "application/x-www-form-urlencoded", "email=battery%40example.org&consent=on"))
            .Concat(BodyCases.WrongCharsets(Route, "POST", Route, Expect.Refused, $"multipart/form-data; boundary={BodyCases.Boundary}", multipart)))
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
                yield return new("invalid UTF-8", Route, "POST", Route, Expect.Refused, [.. json], "application/json");
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
        yield return new("10 MB bodies", Route, "POST", Route, Expect.Refused, Utf8(tenMegabytes), "multipart/form-data; boundary=x");
        yield return new("10 MB bodies", Route, "POST", Route, Expect.Refused, Utf8($$"""{"name":"{{tenMegabytes}}"}"""), "application/json", Chunked: true);
        yield return new("10 MB bodies", Route, "POST", Route, Expect.Refused, Utf8($"name={tenMegabytes}"), "application/x-www-form-urlencoded", Chunked: true);

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

        // wrong content types
        foreach (var type in new[] { "text/plain", "application/xml", "text/html", "application/octet-stream", "application/jsonp", "multipart/mixed; boundary=x", "image/png", "application/x-www-form-urlencodedx" })
        {
            yield return new("wrong content types", Route, "POST", Route, Expect.Refused, Utf8(Valid), type);
        }

        yield return new("wrong content types", Route, "POST", Route, Expect.Refused, Utf8(Valid), null);

        // random bytes, reproducibly
        var random = new Random(20261124);
        for (var i = 0; i < 120; i++)
        {
            var bytes = new byte[random.Next(1, 2000)];
            random.NextBytes(bytes);
            yield return new("random bytes", Route, "POST", Route, Expect.Refused, bytes, i % 2 == 0 ? "application/json" : "application/x-www-form-urlencoded");
        }
    }
}
