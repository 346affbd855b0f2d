using System.Text;

namespace Subscriptions.Api.Tests.Protection.Battery;

/// <summary>
/// Confirmation and unsubscribe links that were never issued: malformed, truncated, over-long,
/// altered and percent-encoded tokens, opened (GET) and pressed (POST) by a browser and by a
/// script. None may confirm or unsubscribe anything, so none decodes to a real token.
/// </summary>
public static class LinkCases
{
    public const string Confirm = "/confirm/{token}";
    public const string Unsubscribe = "/unsubscribe/{token}";
    public const string Manage = "/manage/{token}";

    const string Base64Url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    static readonly KeyValuePair<string, string>[][] Askers =
    [
        [],
        [new("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"), new("Accept-Language", "de-CH,de;q=0.9")],
        [new("Accept", "application/json")],
        [new("Accept", "application/problem+json"), new("Accept-Language", "*;q=x, ;;, " + new string('a', 300))],
    ];

    public static IEnumerable<Case> Cases(BatteryTargets targets) =>
        For("confirmation links", Confirm, "/confirm/", targets.ConfirmToken)
            .Concat(For("unsubscribe links", Unsubscribe, "/unsubscribe/", targets.UnsubscribeToken))
            .Concat(For("manage links", Manage, "/manage/", targets.ManageToken))
            .Concat(ManageForms(targets.ManageToken));

    /// <summary>
    /// The real preference centre link with forms no page of ours sends: every one refused (4xx page
    /// or problem), so nothing changes. A valid choice would change the battery's subscription.
    /// </summary>
    static IEnumerable<Case> ManageForms(string token)
    {
        var path = "/manage/" + token;
        const string form = "application/x-www-form-urlencoded";
        foreach (var body in new[]
        {
            "", "action=", "action=SAVE", "action=delete", "action=save&action=download", "action=save&list=BATTERY", "action=save&list=news%00",
            "action=save&list=" + new string('a', 64), "action=save&language=xx", "action=save&language=de&language=fr", "action=save&language=%00",
            "action=save&list=%27%3B%20DROP%20TABLE%20lists", "action=unsubscribe-all%00", "list=battery", "language=de",
            "action=save&" + string.Join("&", Enumerable.Range(0, 150).Select(i => $"list=l{i}")), "action=save&list=" + new string('x', 20_000),
        })
        {
            yield return new("manage forms", Manage, "POST", path, Expect.Refused, BodyCases.Utf8(body), form);
        }

        foreach (var type in new[] { "text/plain", "application/json", "application/xml", "", "application/x-www-form-urlencoded; charset=iso-8859-1", "application/x-www-form-urlencoded; charset=utf-16" })
        {
            yield return new("manage forms", Manage, "POST", path, Expect.Refused, BodyCases.Utf8("action=unsubscribe-all"), type.Length == 0 ? null : type);
        }

        foreach (var c in BodyCases.MalformedMultipart(Manage, "POST", path, Expect.Refused, everyTruncation: false))
        {
            yield return c;
        }
    }

    static IEnumerable<Case> For(string category, string route, string prefix, string real)
    {
        foreach (var (token, kestrelRefuses) in JunkTokens(real))
        {
            var expect = kestrelRefuses ? Expect.Framing : Expect.Refused;
            foreach (var (asker, index) in Askers.Select((a, i) => (a, i)))
            {
                // every token opened by each kind of asker; pressed by two, and with a one-click body
                yield return new(category, route, "GET", prefix + token, expect, Headers: asker);
                if (index % 2 == 0)
                {
                    yield return new(category, route, "POST", prefix + token, expect, Headers: asker);
                }
            }

            yield return new(category, route, "POST", prefix + token, expect,
                BodyCases.Utf8("List-Unsubscribe=One-Click"), "application/x-www-form-urlencoded");
        }

        // a one-click POST is a form: broken multipart framing to a link that was never issued
        foreach (var c in BodyCases.MalformedMultipart(route, "POST", prefix + new string('A', real.Length), Expect.Refused, everyTruncation: false))
        {
            yield return c;
        }
    }

    /// <summary>Tokens as they go into a path (already percent-encoded where they need it), and whether Kestrel refuses the request line itself.</summary>
    static IEnumerable<(string Token, bool KestrelRefuses)> JunkTokens(string real)
    {
        var n = real.Length;

        // truncated, and altered in one character at every position
        for (var length = 1; length < n; length++)
        {
            yield return (real[..length], false);
        }

        for (var i = 0; i < n; i++)
        {
            var other = Base64Url[(Base64Url.IndexOf(real[i], StringComparison.Ordinal) + 1) % Base64Url.Length];
            yield return (real[..i] + other + real[(i + 1)..], false);
        }

        // over-long, up to past what Kestrel takes in a request line (8 KiB)
        foreach (var extra in new[] { "A", "AA", "==", "%3D", real, new string('A', 100), new string('A', 1_000), new string('A', 4_000), new string('A', 7_900) })
        {
            yield return (real + extra, false);
        }

        yield return (new string('A', 9_000), true);

        // not base64url at all, or not canonical
        foreach (var junk in new[]
        {
            "x", "not-a-token", new string('a', n), new string('_', n), new string('-', n), new string('A', n - 1) + "B",
            new string('A', n - 2) + "%2B", new string('A', n - 2) + "%2F", new string('A', n - 3) + "%3D%3D", real.ToUpperInvariant(),
            real.ToLowerInvariant(), real[1..] + real[0], "%20" + real[1..], real[..^1] + "%20", real[..^1] + "%09", real[..^1] + "%0A",
            real[..^2] + "%0D%0A", real[..^1] + "%00", real[..^1] + "%C3%A9", real[..^1] + "%EF%BC%A1", real[..^1] + "%E2%80%8B",
            real[..^1] + "%FF", real[..^1] + "%C0%AF", real[..^1] + "%ED%A0%80", real[..^1] + "%", real[..^1] + "%zz", real[..^1] + "%%",
            "..%2F..%2Fetc%2Fpasswd", "%2E%2E%2F%2E%2E", "%252E%252E", real[..^1] + "%2F", real + ";jsessionid=1", "'%20OR%20'1'%3D'1",
            "%27%3B%20DROP%20TABLE%20tokens%3B%20--", "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "%7B%7Btoken%7D%7D", "%24%7Bjndi%3Aldap%3A%2F%2Fx%7D",
            "null", "undefined", "0", "-1", "true", "[]", "%7B%7D",
        })
        {
            yield return (junk, false);
        }

        // percent-encoded: a canonical token never issued, spelled out byte by byte, and the real one encoded twice
        yield return (string.Concat(new string('A', n).Select(c => $"%{(int)c:X2}")), false);
        yield return (string.Concat(real.Select(c => $"%25{(int)c:X2}")), false);
        yield return (Encoding.ASCII.GetString(Encoding.ASCII.GetBytes(new string('B', n))), false);
    }
}
