using System.Text;
using Subscriptions.Api.Tests.Bounces;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Protection.Battery;

/// <summary>
/// The providers' bounce webhooks (every provider configured, as in every test): forged, missing
/// and wrong credentials and signatures, stale timestamps, malformed, truncated, deep and huge
/// bodies, wrong types and charsets, hostile provider names. Requests that are signed but bad get
/// a 4xx; those that carry a hostile address in a well-formed, authenticated report are
/// acknowledged (204) like any unknown address, and store nothing either.
/// </summary>
public static class BounceCases
{
    public const string Route = "/api/webhooks/bounces/{provider}";

    const string Unknown = "nobody@battery.invalid";

    static readonly Expect Acknowledged = new("204, ignored", 204, [null]);

    public static IEnumerable<Case> Cases()
    {
        KeyValuePair<string, string>[] postmark = [new("Authorization", ProviderSigning.PostmarkAuthorization())];
        var cases = new List<Case>();
        void Add(string category, string provider, Expect expect, string body, string contentType = "application/json",
            IReadOnlyList<KeyValuePair<string, string>>? headers = null) =>
            cases.Add(new(category, Route, "POST", ProviderFixtures.Route + provider, expect, BodyCases.Utf8(body), contentType, Headers: headers));

        // missing and wrong credentials: Postmark's basic auth
        foreach (var authorization in new[]
        {
            "", "Basic", "Basic ", "Basic !!!", "Basic " + Convert.ToBase64String("postmark-hook"u8.ToArray()),
            ProviderSigning.PostmarkAuthorization(password: "wrong"), ProviderSigning.PostmarkAuthorization(user: "POSTMARK-HOOK"),
            ProviderSigning.PostmarkAuthorization(password: ProviderSigning.PostmarkPassword + "x"), ProviderSigning.PostmarkAuthorization(password: ProviderSigning.PostmarkPassword[..^1]),
            "Bearer " + ProviderSigning.PostmarkPassword, "Basic " + new string('A', 10_000), ProviderSigning.PostmarkAuthorization() + " extra",
        })
        {
            Add("bounces: no or wrong key", "postmark", Expect.Problem, ProviderFixtures.PostmarkBounce("battery@example.org"),
                headers: authorization.Length == 0 ? [] : [new("Authorization", authorization)]);
        }

        // forged Mailgun signatures and stale or odd timestamps
        var now = ProviderSigning.UnixNow();
        foreach (var body in new[]
        {
            ProviderFixtures.MailgunEvent("battery@example.org", signature: new string('0', 64)),
            ProviderFixtures.MailgunEvent("battery@example.org", signature: new string('g', 64)),
            ProviderFixtures.MailgunEvent("battery@example.org", signature: ""),
            ProviderFixtures.MailgunEvent("battery@example.org", signature: new string('a', 10_000)),
            ProviderFixtures.MailgunEvent("battery@example.org", timestamp: now, token: "t", signature: ProviderSigning.MailgunSignature(now, "t", "key-wrong")),
            ProviderFixtures.MailgunEvent("battery@example.org", timestamp: ProviderSigning.UnixNow(TimeSpan.FromHours(-2))),
            ProviderFixtures.MailgunEvent("battery@example.org", timestamp: ProviderSigning.UnixNow(TimeSpan.FromHours(2))),
            ProviderFixtures.MailgunEvent("battery@example.org", timestamp: "-1", token: "t", signature: ProviderSigning.MailgunSignature("-1", "t")),
            ProviderFixtures.MailgunEvent("battery@example.org", timestamp: "99999999999999999999", token: "t", signature: ProviderSigning.MailgunSignature("99999999999999999999", "t")),
            ProviderFixtures.MailgunEvent("battery@example.org", timestamp: now, token: "t\\u0000", signature: ProviderSigning.MailgunSignature(now, "t\0")),
            """{"event-data":{"event":"failed","recipient":"battery@example.org"}}""",
            """{"signature":{"timestamp":1,"token":2,"signature":3},"event-data":{}}""",
        })
        {
            Add("bounces: forged signatures", "mailgun", Expect.Problem, body);
        }

        // forged SendGrid signatures
        var batch = ProviderFixtures.SendGridEvents("battery@example.org");
        var signature = ProviderSigning.SendGridSignature(now, Encoding.UTF8.GetBytes(batch));
        foreach (var (time, sign) in new (string?, string?)[]
        {
            (null, null), (now, null), (null, signature), (now, ""), (now, "!!"), (now, Convert.ToBase64String(new byte[72])),
            (now, signature[..^4]), (OneSecondBefore(now), signature), ("abc", signature), ("-1", signature),
            (ProviderSigning.UnixNow(TimeSpan.FromHours(-2)), null), (now, new string('A', 20_000)),
        })
        {
            var headers = new List<KeyValuePair<string, string>>();
            if (time is not null)
            {
                headers.Add(new("X-Twilio-Email-Event-Webhook-Timestamp", time));
            }

            var value = sign ?? (time is not null && time != now ? ProviderSigning.SendGridSignature(time, Encoding.UTF8.GetBytes(batch)) : null);
            if (value is not null)
            {
                headers.Add(new("X-Twilio-Email-Event-Webhook-Signature", value));
            }

            Add("bounces: forged signatures", "sendgrid", Expect.Problem, batch, headers: headers);
        }

        // forged SNS messages: nothing is signed with a key the service fetched from an allowed place
        var bounce = ProviderFixtures.SesBounce("battery@example.org");
        foreach (var (field, value) in new[]
        {
            ("Signature", "AAAA"), ("Signature", ""), ("Signature", "!!"), ("SignatureVersion", "3"), ("SignatureVersion", "1"),
            ("SigningCertURL", "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem"),
            ("SigningCertURL", "http://127.0.0.1:9/SimpleNotificationService-x.pem"), ("SigningCertURL", "http://10.0.0.1/x.pem"),
            ("SigningCertURL", "file:///etc/passwd"), ("SigningCertURL", "http://user:pw@127.0.0.1:9/x.pem"), ("SigningCertURL", "http://127.0.0.1:9/x.pem?x"),
            ("TopicArn", "arn:aws:sns:us-east-1:999999999999:other"), ("TopicArn", ""), ("Type", "SubscriptionConfirmation"), ("Type", "Other"),
        })
        {
            Add("bounces: forged signatures", "ses", Expect.Problem, ForgedSns(bounce, field, value), "text/plain; charset=UTF-8");
        }

        // truncated bodies, signed as whole where the signature is outside the body
        var postmarkBody = ProviderFixtures.PostmarkBounce(Unknown);
        var mailgunBody = ProviderFixtures.MailgunEvent(Unknown);
        var sesBody = ForgedSns(ProviderFixtures.SesBounce(Unknown), "SignatureVersion", "2");
        foreach (var (provider, body, headers) in new (string, string, IReadOnlyList<KeyValuePair<string, string>>)[]
        {
            ("postmark", postmarkBody, postmark), ("mailgun", mailgunBody, []), ("ses", sesBody, []),
            ("sendgrid", batch, [new("X-Twilio-Email-Event-Webhook-Timestamp", now), new("X-Twilio-Email-Event-Webhook-Signature", signature)]),
        })
        {
            for (var length = 0; length < body.Length; length += 7)
            {
                Add("bounces: truncated", provider, Expect.Problem, body[..length], headers: headers);
            }

            foreach (var malformed in new[] { "{", "}", "[", "nul", "NaN", "\"\\ud800\"", body + body, "null", "0", "\"\"", body + "x", "\uFEFF" + body + "\uFEFF" })
            {
                Add("bounces: malformed", provider, Expect.Problem, malformed, headers: headers);
            }

            Add("bounces: deep JSON", provider, Expect.Problem, new string('[', 5_000) + new string(']', 5_000), headers: headers);
            cases.Add(new("bounces: invalid UTF-8", Route, "POST", ProviderFixtures.Route + provider, Expect.Problem,
                [.. Encoding.UTF8.GetBytes(body[..20]), 0xff, 0xc0, .. Encoding.UTF8.GetBytes(body[20..])], "application/json", Headers: headers));
            cases.Add(new("bounces: 10 MB bodies", Route, "POST", ProviderFixtures.Route + provider, Expect.Problem,
                Encoding.UTF8.GetBytes("[\"" + new string('a', 10 * 1024 * 1024) + "\"]"), "application/json", Headers: headers));
            cases.Add(new("bounces: 10 MB bodies", Route, "POST", ProviderFixtures.Route + provider, Expect.Problem,
                Encoding.UTF8.GetBytes("[\"" + new string('a', 10 * 1024 * 1024) + "\"]"), "application/json", Chunked: true, Headers: headers));
            cases.AddRange(BodyCases.WrongCharsets(Route, "POST", ProviderFixtures.Route + provider, Expect.Problem, "application/json", body, headers));
            cases.AddRange(BodyCases.MalformedMultipart(Route, "POST", ProviderFixtures.Route + provider, Expect.Problem, headers, everyTruncation: false));
        }

        // authenticated Postmark reports of the wrong shape
        foreach (var (field, value) in new[]
        {
            ("RecordType", "12345"), ("RecordType", "{\"a\":1}"), ("RecordType", "[[1]]"), ("RecordType", "false"), ("RecordType", "null"),
            ("ID", "{\"a\":1}"), ("ID", "[[1]]"), ("ID", "false"), ("ID", "null"), ("ID", "[]"), ("ID", "\"a\\u0000b\""), ("ID", "\"\\ud800\""),
            ("ID", JsonBody.Quote(new string('9', 300))), ("ID", "\"\""),
            ("Email", "12345"), ("Email", "{\"a\":1}"), ("Email", "[\"battery@example.org\"]"), ("Email", "false"), ("Email", "null"),
            ("Email", "\"\\ud800\""), ("Email", "\"a\\udfffb@example.org\""),
        })
        {
            Add("bounces: wrong JSON types", "postmark", Expect.Problem, Replace(postmarkBody, field, value), headers: postmark);
        }

        // authenticated reports about hostile addresses: acknowledged like any unknown one
        foreach (var address in JsonBody.HostileStrings.Where(v => v is not ("\ud800" or "\udfff")).Concat(["battery@example.org\u0000", "battery@exa mple.org", "BATTERY@", "@example.org"]))
        {
            Add("bounces: hostile addresses", "postmark", Acknowledged, Replace(postmarkBody, "Email", JsonBody.Quote(address)), headers: postmark);
        }

        // provider names that are none
        foreach (var segment in AdminCases.HostileSegments.Concat(["POSTMARK", "postmark%20", "postmark%00", "sparkpost", "ses.json", "mail%67un%00"]))
        {
            cases.Add(new("bounces: hostile path segments", Route, "POST", ProviderFixtures.Route + segment, Expect.Problem,
                BodyCases.Utf8(postmarkBody), "application/json", Headers: postmark));
        }

        return cases;
    }

    /// <summary>An SNS message signed by nobody, with one field changed.</summary>
    static string ForgedSns(string message, string field, string value)
    {
        var fields = new Dictionary<string, string>
        {
            ["Type"] = "Notification", ["MessageId"] = "battery-1", ["TopicArn"] = ProviderSigning.SesTopic, ["Message"] = message,
            ["Timestamp"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture),
            ["SignatureVersion"] = "2", ["Signature"] = Convert.ToBase64String(new byte[256]),
            ["SigningCertURL"] = "http://127.0.0.1:9/SimpleNotificationService-battery.pem",
        };
        fields[field] = value;
        return System.Text.Json.JsonSerializer.Serialize(fields);
    }

    /// <summary>The documented example with one top-level field's JSON replaced.</summary>
    static string Replace(string body, string field, string json)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(body)!.AsObject();
        node.Remove(field);
        return node.ToJsonString().TrimEnd('}') + $",\"{field}\":{json}}}";
    }

    // from `now` itself: a clock read again could fall into the next second and give `now` back
    static string OneSecondBefore(string unixSeconds) =>
        (long.Parse(unixSeconds, System.Globalization.CultureInfo.InvariantCulture) - 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
