using Subscriptions.Api.Kernel;

namespace Subscriptions.Api.Tests.Protection.Battery;

/// <summary>
/// The admin routes with the right key, so that every hostile value reaches a handler: bad JSON,
/// wrong types, huge bodies, unknown lists, hostile query values and path segments. Bodies are
/// built so that even a variation the service accepted would change nothing (a taken slug, a
/// list that does not exist); the test's count of rows checks that it did not.
/// </summary>
public static class AdminCases
{
    public const string Lists = "/api/admin/lists/";
    public const string List = "/api/admin/lists/{slug}";
    public const string Export = "/api/admin/export";
    public const string Subscriber = "/api/admin/subscribers/{email}";
    public const string Stats = "/api/admin/stats";

    /// <summary>Path segments no route parameter should take, already percent-encoded where they need it.</summary>
    public static readonly string[] HostileSegments =
    [
        "%20", "%00", "a%00b", "%FF", "%C0%AF", "%ED%A0%80", "..", "...", "..%2F..%2Fstats", "%2E%2E%2F", "%252E%252E%252F", "%27%20OR%20%271%27%3D%271",
        "1%3B%20DROP%20TABLE%20lists", "%3Cscript%3E", "%E2%80%8Bnews", "NEWS", "news%20", "news%0D%0AX-Injected:%201", "news.json", "news%3Fx=1",
        "news%23x", new string('a', 64), new string('a', 5_000), "-1", "0", "1e3", "0x10", "%2B1", "9223372036854775807", "9223372036854775808",
        "-9223372036854775809", "1.0", "1,2", "%7B%7D", "null", "%F0%9F%93%B0", "%C3%A9",
    ];

    public static readonly string[] Dates = ["yesterday", "2026-13-45", "2026-02-30T00:00:00Z", "0000-01-01", "9999-12-31T23:59:59-14:00", "1e10", "-1", "%00", "now()", "2026-01-01'", "2026-01-01T25:00:00Z", "%FF", new string('9', 400)];

    /// <summary>A JSON value of the field's kind with a NUL inside.</summary>
    static string WithNul(string json) => json switch
    {
        ['[', ..] => "[\"\\u0000\"]",
        ['"', ..] => json.Insert(2, "\\u0000"),
        _ => "\"\\u0000\"",
    };

    /// <summary>A translations object with one language; each part is JSON, the language a key's text.</summary>
    static string Translation(string language = "de", string name = "\"Batterie\"", string consentText = "\"Ich stimme zu.\"") =>
        $"{{\"{language}\":{{\"name\":{name},\"consentText\":{consentText}}}}}";

    /// <summary>Translations whose key, name or consent text is hostile, or whose parts are of the wrong JSON type.</summary>
    static IEnumerable<string> HostileTranslations()
    {
        foreach (var value in JsonBody.HostileStrings)
        {
            var quoted = JsonBody.Quote(value);
            yield return Translation(name: quoted);
            yield return Translation(consentText: quoted);
            yield return Translation(language: quoted[1..^1]);
        }

        foreach (var value in JsonBody.WrongTypes)
        {
            yield return Translation(name: value);
            yield return Translation(consentText: value);
            yield return $"{{\"de\":{value}}}";
        }

        yield return "{\"de\":null}";
        yield return "{\"de\":{}}";
        yield return Translation() [..^1] + "," + Translation(language: "DE")[1..];
        yield return "{" + string.Join(",", Enumerable.Range(0, 1_000).Select(i => $"\"l{i}\":{{\"name\":\"x\",\"consentText\":\"x\"}}")) + "}";
    }

    static KeyValuePair<string, string>[] Key(BatteryTargets targets) => [new("Authorization", $"Bearer {targets.AdminKey}")];

    public static IEnumerable<Case> Cases(BatteryTargets targets)
    {
        var admin = Key(targets);

        // create: every variation keeps the slug of a list that exists (409) or breaks it (400)
        (string, string)[] listFields =
        [
            ("slug", "\"news\""), ("name", "\"Battery\""), ("senderName", "\"Desk\""), ("senderEmail", "\"desk@example.org\""),
            ("thankYouUrl", "\"https://news.example/thanks\""), ("confirmedUrl", "\"https://news.example/welcome\""), ("errorUrl", "\"https://news.example/oops\""),
            ("allowedOrigins", "[\"https://news.example\"]"), ("consentText", "\"I agree.\""), ("consentTextVersion", "\"v1\""),
            ("defaultLocale", "\"en\""), ("welcome", "false"), ("translations", Translation()),
        ];
        var create = new JsonBody(Lists, "POST", "/api/admin/lists", admin, listFields)
        {
            Storable = (field, value) => field == "slug" && InputRules.IsListSlug(value) && value != "news",
        };

        // replace: a list that does not exist (404), or the test's own list with a changed consent
        // text under its old version (409), so nothing is replaced
        var replaceMissing = new JsonBody(List, "PUT", "/api/admin/lists/battery-missing", admin, listFields[1..]);
        var replaceOwn = new JsonBody(List, "PUT", $"/api/admin/lists/{targets.List}", admin,
            [.. listFields[1..].Where(f => f.Item1 is not ("consentText" or "consentTextVersion")), ("consentText", "\"A text it never had.\""), ("consentTextVersion", "\"v1\"")])
        {
            // a new version would make the change legitimate
            Storable = (field, _) => field == "consentTextVersion",
        };

        foreach (var c in create.Cases().Concat(replaceMissing.Cases()).Concat(replaceOwn.Cases()))
        {
            yield return c;
        }

        // text PostgreSQL cannot store, under a new version: refused, never a failed statement
        foreach (var (field, _) in listFields[1..])
        {
            yield return new("NUL and control chars", List, "PUT", $"/api/admin/lists/{targets.List}", Expect.Problem,
                BodyCases.Utf8("{" + string.Join(",", listFields[1..].Select(f => $"\"{f.Item1}\":{(f.Item1 == field ? WithNul(f.Item2) : f.Item1 == "consentTextVersion" ? "\"v2\"" : f.Item2)}")) + "}"),
                "application/json", Headers: admin);
        }

        // the translations' inside: hostile keys, names and consent texts, and values of the wrong
        // type, in bodies refused even when valid (a taken slug, a missing list, a changed consent
        // text under its old version); then what no version makes valid, under a new one
        var bodies = new[] { create, replaceMissing, replaceOwn };
        foreach (var body in bodies)
        {
            foreach (var translations in HostileTranslations())
            {
                yield return new("hostile translations", body.Route, body.Method, body.Path, Expect.Problem,
                    BodyCases.Utf8("{" + string.Join(",", body.Fields.Select(f => $"\"{f.Field}\":{(f.Field == "translations" ? translations : f.Json)}")) + "}"),
                    "application/json", Headers: admin);
            }
        }

        foreach (var translations in new[] { "\\u0000", "\\u0007", "\\u001b[31m", "\\ud800" }.SelectMany(bad => new[]
        {
            Translation(name: $"\"Batterie{bad}\""), Translation(consentText: $"\"Ich stimme zu.{bad}\""), Translation(language: $"de{bad}"),
        }).Concat([Translation(language: "en"), Translation(language: "xx"), Translation(name: $"\"{new string('x', 201)}\""), Translation(consentText: $"\"{new string('x', 2001)}\"")]))
        {
            yield return new("hostile translations", List, "PUT", $"/api/admin/lists/{targets.List}", Expect.Problem,
                BodyCases.Utf8("{" + string.Join(",", listFields[1..].Select(f => $"\"{f.Item1}\":{(f.Item1 == "translations" ? translations : f.Item1 == "consentTextVersion" ? "\"v2\"" : f.Item2)}")) + "}"),
                "application/json", Headers: admin);
        }

        // unknown and hostile list slugs in the path, with a body that would otherwise be accepted
        var validReplacement = "{\"name\":\"Battery\",\"consentText\":\"I agree.\",\"consentTextVersion\":\"v1\"}";
        foreach (var segment in HostileSegments.Concat(["battery-missing", "nope", "news-"]))
        {
            yield return new("hostile path segments", List, "GET", $"/api/admin/lists/{segment}", Expect.Problem, Headers: admin);
            yield return new("hostile path segments", List, "PUT", $"/api/admin/lists/{segment}", Expect.Problem, BodyCases.Utf8(validReplacement), "application/json", Headers: admin);
        }

        // export: hostile format, status, since and list values, alone and together
        foreach (var value in PageCases.HostileListValues.Where(v => v.Length > 0))
        {
            yield return new("hostile query values", Export, "GET", $"/api/admin/export?format={value}", Expect.Problem, Headers: admin);
            yield return new("hostile query values", Export, "GET", $"/api/admin/export?status={value}", Expect.Problem, Headers: admin);
            yield return new("hostile query values", Export, "GET", $"/api/admin/export?format=csv&list={value}&status=nope", Expect.Problem, Headers: admin);

            // a list filter that cannot name a list (a well-formed unknown one filters everything out: 200, not hostile)
            if (!InputRules.IsListSlug(Uri.UnescapeDataString(value.Replace('+', ' '))))
            {
                yield return new("hostile query values", Export, "GET", $"/api/admin/export?list={value}", Expect.Problem, Headers: admin);
            }
        }

        foreach (var value in Dates)
        {
            yield return new("hostile query values", Export, "GET", $"/api/admin/export?since={value}", Expect.Problem, Headers: admin);
        }

        foreach (var query in new[] { "format=csv&format=ndjson", "status=pending&status=confirmed", "since=2026-01-01&since=2026-01-02", "format=CSV", "format=%20csv", "format=json", "format=xlsx", "status=Pending", "status=erased" })
        {
            yield return new("hostile query values", Export, "GET", $"/api/admin/export?{query}", Expect.Problem, Headers: admin);
        }

        // erasure: path segments that are no address (a real one, even an unknown one, would be erased: 204)
        foreach (var segment in HostileSegments.Concat(["battery", "battery@", "%40example.org", "battery%40%40example.org", "battery%40exa%20mple.org",
            "battery%40example..org", "battery%40-example.org", "%E2%80%8Bbattery%40example.org", "battery%40ex%D0%B0mple.org", "battery%40example.org%0D%0ABcc:x%40y.z",
            "battery%40example.org%00", new string('a', 300) + "%40example.org", "%22battery%22", "battery(comment)%40example.org"]))
        {
            if (EmailAddress.TryNormalize(Uri.UnescapeDataString(segment), out var address))
            {
                throw new InvalidOperationException($"{segment} is {address}, which would be erased");
            }

            yield return new("hostile path segments", Subscriber, "DELETE", $"/api/admin/subscribers/{segment}", Expect.Problem, Headers: admin);
        }

        // stats: the funnel's window in whole days, 1 to 366
        foreach (var value in new[] { "0", "-1", "367", "99999999999", "1.5", "1e2", "abc", "%00", "%FF", "", "%20", "1%00", "0x10", "ten", "%EF%BC%91" })
        {
            yield return new("hostile query values", Stats, "GET", $"/api/admin/stats?days={value}", Expect.Problem, Headers: admin);
        }

        yield return new("hostile query values", Stats, "GET", "/api/admin/stats?days=1&days=2", Expect.Problem, Headers: admin);

        // routes that read no query: the same answer with one
        foreach (var query in PageCases.OddQueries)
        {
            yield return new("odd query strings", Stats, "GET", "/api/admin/stats" + query, Expect.Unchanged(200, "application/json"), Headers: admin);
            yield return new("odd query strings", Lists, "GET", "/api/admin/lists" + query, Expect.Unchanged(200, "application/json"), Headers: admin);
            yield return new("odd query strings", List, "GET", $"/api/admin/lists/{targets.List}" + query, Expect.Unchanged(200, "application/json"), Headers: admin);
        }
    }
}
