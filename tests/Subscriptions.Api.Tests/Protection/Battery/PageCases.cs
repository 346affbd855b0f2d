namespace Subscriptions.Api.Tests.Protection.Battery;

/// <summary>
/// The pages a browser lands on, the embed and the operators' routes, with query strings no
/// page of ours links to. A landing page names no list it does not know; the embedded form of
/// an unknown list is a 404; routes that read no query answer as if there were none.
/// </summary>
public static class PageCases
{
    /// <summary>Values for the one query parameter these pages read.</summary>
    public static readonly string[] HostileListValues =
    [
        "", "nope", "NEWS", "news%00", "%00", "%FF", "%ED%A0%80", "%C0%AF", "%27%20OR%20%271%27%3D%271", "news&list=sport", "news&list=news",
        new string('x', 5_000), "%E2%80%8Bnews", "..%2F..%2Fetc%2Fpasswd", "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "news%0D%0ASet-Cookie:%20a=b",
        "%2Bnews", "+news", "null", "undefined", "ne%0Aws", "%u0041", "%", "%zz", "=news", "news%20", "%20news", "n%C3%A9ws", "%F0%9F%93%B0",
        "%EF%BF%BD", "news%2Fsport", "-", "a--b", new string('a', 64),
    ];

    /// <summary>Query strings that do not name a list (or name it so that no parser takes it).</summary>
    public static readonly string[] OddQueries =
    [
        "?", "??", "?&&&", "?=&=&", "?%%%", "?a=%", "?a=%zz", "?list[]=news", "?list[0]=x", "?%00=%00", "?;list=nope",
        "?utm_source=%00&utm_medium=%FF", "?lang=xx&locale=%ED%A0%80", "?" + string.Join('&', Enumerable.Range(0, 500).Select(i => $"a{i}=1")),
        "?x=" + new string('y', 6_000), "?callback=alert(1)", "?__proto__[admin]=1", "?v=2&v=3", "?%E2%80%8B=1",
    ];

    static readonly KeyValuePair<string, string>[][] Askers =
    [
        [],
        [new("Accept", "application/json"), new("Accept-Language", "*;q=x, ;;, " + new string('a', 300))],
        [new("Accept", "text/html"), new("Accept-Language", "zz-ZZ, de;q=2, fr;q=-1, en;q=NaN")],
    ];

    public static IEnumerable<Case> Cases()
    {
        foreach (var asker in Askers)
        {
            foreach (var (route, path) in new[] { ("/signup/thank-you", "/signup/thank-you"), ("/signup/confirmed", "/signup/confirmed") })
            {
                foreach (var query in HostileListValues.Select(v => "?list=" + v).Concat(OddQueries))
                {
                    yield return new("landing pages", route, "GET", path + query, Expect.Unchanged(200, "text/html"), Headers: asker);
                }
            }

            foreach (var value in HostileListValues)
            {
                yield return new("embed", "/embed/form", "GET", "/embed/form?list=" + value, Expect.NotFound, Headers: asker);
            }

            foreach (var query in OddQueries)
            {
                yield return new("embed", "/embed/form", "GET", "/embed/form" + query, Expect.Unchanged(200, "text/html"), Headers: asker);
            }
        }

        foreach (var query in HostileListValues.Select(v => "?v=" + v).Concat(HostileListValues.Select(v => "?lang=" + v)).Concat(OddQueries))
        {
            yield return new("embed", "/embed/subscribe.js", "GET", "/embed/subscribe.js" + query, Expect.Unchanged(200, "text/javascript"));
            yield return new("embed", "/embed/subscribe.js", "GET", "/embed/subscribe.js" + query, Expect.Unchanged(200, "text/javascript"),
                Headers: [new("Accept-Language", "zz-ZZ, de;q=2, fr;q=-1, en;q=NaN, *;q=x, ;;")]);
        }

        foreach (var query in OddQueries)
        {
            yield return new("operator routes", "/health/live", "GET", "/health/live" + query, Expect.Unchanged(200, "text/plain"));
            yield return new("operator routes", "/health/ready", "GET", "/health/ready" + query, Expect.Unchanged(200, "text/plain"));
            yield return new("operator routes", "/metrics", "GET", "/metrics" + query, Expect.Unchanged(200, "text/plain"));
            yield return new("operator routes", "/openapi/{documentName}.json", "GET", "/openapi/v1.json" + query, Expect.Unchanged(200, "application/json"));
        }

        foreach (var name in new[] { "v2", "v1.json", "..%2Fappsettings", "%2E%2E", "%00", "%FF", new string('v', 5_000), "v1%00", "%20v1", "*" })
        {
            yield return new("operator routes", "/openapi/{documentName}.json", "GET", $"/openapi/{name}.json", Expect.NotFound);
        }
    }
}
