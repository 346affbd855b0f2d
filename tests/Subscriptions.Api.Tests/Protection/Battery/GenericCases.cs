using System.Text;

namespace Subscriptions.Api.Tests.Protection.Battery;

/// <summary>
/// Cases every route gets from its template alone, so a route added later has them without
/// anyone writing them: methods it does not serve, missing and wrong admin keys, broken body
/// framing and broken request lines (those two sent raw, since HttpClient will not).
/// Parameters are "0", which names no row.
/// </summary>
public static class GenericCases
{
    /// <summary>The categories of these cases: they do not count as a route's own.</summary>
    public static readonly string[] Categories = ["methods not served", "admin: no or wrong key", "Transfer-Encoding games", "broken request lines and headers"];

    static readonly string[] Methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND", "QUERY", "BREW"];

    public static IEnumerable<Case> Cases(IReadOnlyList<ServedRoute> routes, BatteryTargets targets, string host)
    {
        var rightKey = new KeyValuePair<string, string>("Authorization", $"Bearer {targets.AdminKey}");
        foreach (var route in routes)
        {
            var path = route.PathWith("0");
            foreach (var method in Methods.Where(m => !route.Serves(m)))
            {
                yield return new("methods not served", route.Template, method, path, Expect.Problem);
                if (route.NeedsAdminKey)
                {
                    yield return new("methods not served", route.Template, method, path, Expect.Problem, Headers: [rightKey]);
                }
            }

            foreach (var method in route.NeedsAdminKey ? route.Methods ?? [] : [])
            {
                foreach (var authorization in WrongKeys(targets.AdminKey))
                {
                    yield return new("admin: no or wrong key", route.Template, method, path, Expect.Problem, Headers: authorization);
                    if (method is "POST" or "PUT")
                    {
                        yield return new("admin: no or wrong key", route.Template, method, path, Expect.Problem,
                            BodyCases.Utf8("""{"slug":"news","name":"x","url":"http://127.0.0.1:9/x"}"""), "application/json", Headers: authorization);
                    }
                }
            }

            var headers = route.NeedsAdminKey ? $"Authorization: Bearer {targets.AdminKey}\r\n" : "";
            foreach (var method in (route.Methods ?? ["GET"]).Where(m => m is not ("GET" or "HEAD")))
            {
                foreach (var (framing, body, endless) in FramingGames())
                {
                    yield return new("Transfer-Encoding games", route.Template, method, path, endless ? Expect.FramingOrClosed : Expect.Framing,
                        Raw: Latin1($"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Type: application/json\r\n{framing}Connection: close\r\n\r\n{body}"),
                        HalfClose: endless);
                }
            }

            var served = route.Methods?[0] ?? "GET";
            foreach (var request in BrokenRequests(served, path, host, headers))
            {
                yield return new("broken request lines and headers", route.Template, served, path, Expect.Framing, Raw: request);
            }
        }
    }

    static IEnumerable<KeyValuePair<string, string>[]> WrongKeys(string key) =>
    [
        [],
        [new("Authorization", "Bearer wrong-key-wrong-key-wrong")],
        [new("Authorization", "Bearer ")],
        [new("Authorization", "Bearer")],
        [new("Authorization", $"Bearer {key}x")],
        [new("Authorization", $"Bearer {key[..^1]}")],
        [new("Authorization", $"Bearer {key.ToUpperInvariant()}")],
        [new("Authorization", $"Bearer {key} {key}")],
        [new("Authorization", $"Basic {key}")],
        [new("Authorization", $"Token {key}")],
        [new("Authorization", $"Bearer {Convert.ToBase64String(Encoding.UTF8.GetBytes(key))}")],
        [new("Authorization", "Bearer " + new string('k', 10_000))],
        [new("Authorization", $"Bearer {key}"), new("Authorization", $"Bearer {key}")],
        [new("X-Api-Key", key)],
        [new("Cookie", $"admin={key}")],
    ];

    /// <summary>
    /// Bodies framed so that no server should read them as sent; their content is broken JSON
    /// besides. Endless ones announce more than they hold.
    /// </summary>
    static IEnumerable<(string Headers, string Body, bool Endless)> FramingGames()
    {
        const string json = """{"slug":"news","email":"battery@example.org","name":"Battery" """;
        var size = json.Length.ToString("x", System.Globalization.CultureInfo.InvariantCulture);
        var chunked = $"{size}\r\n{json}\r\n0\r\n\r\n";
        const string te = "Transfer-Encoding: chunked\r\n";

        yield return (te, $"zz\r\n{json}\r\n0\r\n\r\n", false);
        yield return (te, $"-{size}\r\n{json}\r\n0\r\n\r\n", false);
        yield return (te, $"FFFFFFFFFFFFFFFFFFFF\r\n{json}\r\n0\r\n\r\n", false);
        yield return (te, $"1000\r\n{json}\r\n0\r\n\r\n", true);
        yield return (te, $"2\r\n{json}\r\n0\r\n\r\n", false);
        yield return (te, $"{size};ext=\"unterminated\r\n{json}\r\n0\r\n\r\n", false);
        yield return (te, $"{size}\r\n{json}\r\n", true);
        yield return (te, $"{size}\r\n{json}X\r\n0\r\n\r\n", false);
        yield return (te, $"{size}\n{json}\n0\n\n", false);
        yield return (te, $"{size}\r\n{json}\r\n0\r\nbad trailer\r\n\r\n", false);
        yield return (te, $"5;{new string('a', 20_000)}\r\nhello\r\n0\r\n\r\n", false);
        yield return (te, $" {size}\r\n{json}\r\n0\r\n\r\n", false);
        yield return (te, $"0x{size}\r\n{json}\r\n0\r\n\r\n", false);
        yield return (te, $"0\r\n\r\n{json}", false);
        yield return (te + "Content-Length: 3\r\n", chunked, false);
        yield return ("Content-Length: 3\r\n" + te, chunked, false);
        yield return ($"Content-Length: {chunked.Length}\r\n" + te, chunked, false);
        yield return ("Transfer-Encoding: gzip, chunked\r\n", chunked, false);
        yield return ("Transfer-Encoding: chunked, gzip\r\n", chunked, false);
        yield return ("Transfer-Encoding: identity\r\n", json, false);
        yield return ("Transfer-Encoding: xchunked\r\n", chunked, false);
        yield return ("Transfer-Encoding: CHUNKED\r\n", chunked, false);
        yield return ("Transfer-Encoding : chunked\r\n", chunked, false);
        yield return ("Transfer-Encoding:\r\n chunked\r\n", chunked, false);
        yield return (te + te, chunked, false);
        yield return ("Transfer-Encoding: \r\n", json, false);
        yield return ("Content-Length: 5\r\nContent-Length: 6\r\n", json, false);
        yield return ("Content-Length: abc\r\n", json, false);
        yield return ("Content-Length: -1\r\n", json, false);
        yield return ("Content-Length: +5\r\n", json, false);
        yield return ("Content-Length: 5, 5\r\n", json, false);
        yield return ("Content-Length: 1000\r\n", json, true);
        yield return ("Content-Length: 3\r\n", json, false);
        yield return ("Content-Length: 0\r\n", json, false);
        yield return ("Content-Length: 99999999999999999999\r\n", json, false);
    }

    static IEnumerable<byte[]> BrokenRequests(string method, string path, string host, string headers)
    {
        var rest = $"Host: {host}\r\n{headers}Connection: close\r\n\r\n";
        yield return Latin1($"{method} {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n");
        yield return Latin1($"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{rest}");
        yield return Latin1($"{method} {path} HTTP/1.1\r\nX-No-Colon\r\n{rest}");
        yield return Latin1($"{method} {path} HTTP/1.1\r\nX-Nul: a\0b\r\n{rest}");
        yield return Latin1($"{method} {path} HTTP/1.1\r\nX-Big: {new string('x', 40_000)}\r\n{rest}");
        yield return Latin1($"{method} {path} HTTP/1.1\r\n{string.Concat(Enumerable.Range(0, 200).Select(i => $"X-H{i}: {i}\r\n"))}{rest}");
        yield return Latin1($"{method} {path}\u00ff HTTP/1.1\r\n{rest}");
        yield return Latin1($"{method} {path} x HTTP/1.1\r\n{rest}");
        yield return Latin1($"{method}\t{path} HTTP/1.1\r\n{rest}");
        yield return Latin1($"{method[..1]}/{method[1..]} {path} HTTP/1.1\r\n{rest}");
        yield return Latin1($"{method} * HTTP/1.1\r\n{rest}");
        yield return Latin1($"{method} {path} HTTP/1.1\r\nHost: {host}\r\nX-Folded: a\r\n b\r\n{headers}Connection: close\r\n\r\n");
    }

    static byte[] Latin1(string text) => Encoding.Latin1.GetBytes(text);
}
