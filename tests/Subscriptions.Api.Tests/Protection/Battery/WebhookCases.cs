using System.Globalization;

namespace Subscriptions.Api.Tests.Protection.Battery;

/// <summary>
/// The webhook admin routes with the right key. A registration that could succeed would make
/// the service send traffic to its URL, so every body aimed anywhere but 127.0.0.1 names an
/// event that does not exist, and the loopback ones break something else.
/// </summary>
public static class WebhookCases
{
    public const string Webhooks = "/api/admin/webhooks/";
    public const string Webhook = "/api/admin/webhooks/{id:long}";
    public const string Deliveries = "/api/admin/webhooks/{id:long}/deliveries";
    public const string Retry = "/api/admin/webhooks/{id:long}/deliveries/{deliveryId:long}/retry";

    const string Loopback = "http://127.0.0.1:9/battery";

    public static IEnumerable<Case> Cases(BatteryTargets targets)
    {
        KeyValuePair<string, string>[] admin = [new("Authorization", $"Bearer {targets.AdminKey}")];

        var register = new JsonBody(Webhooks, "POST", "/api/admin/webhooks", admin,
            [("url", $"\"{Loopback}\""), ("events", "[\"subscription.exploded\"]"), ("lists", $"[\"{targets.List}\"]"), ("description", "\"CRM\"")])
        {
            // a valid event would let the registration through
            Storable = (field, _) => field == "events",
        };
        foreach (var c in register.Cases())
        {
            yield return c;
        }

        // addresses no webhook may go to (with an event that does not exist, so nothing can be registered)
        foreach (var url in new[]
        {
            "http://10.0.0.1/x", "https://169.254.169.254/latest/meta-data", "https://[::ffff:10.0.0.1]/x", "https://[fd00::1]/x", "https://0.0.0.0/x",
            "file:///etc/passwd", "gopher://127.0.0.1:25/", "https://user:pw@news.example/x", "https://news.example/#x", "//news.example/x", "news.example",
            "http://127.0.0.1:99999/x", "http://127.0.0.1:-1/x", "https://" + new string('a', 2_100) + ".example", "https://exa mple.org/", "https://%00/",
        })
        {
            yield return new("hostile strings", Webhooks, "POST", "/api/admin/webhooks", Expect.Problem,
                BodyCases.Utf8($$"""{"url":{{JsonBody.Quote(url)}},"events":["subscription.exploded"]}"""), "application/json", Headers: admin);
        }

        // loopback receivers with a real event but something else wrong: an unknown list, text PostgreSQL cannot store
        foreach (var body in new[]
        {
            $$"""{"url":"{{Loopback}}","events":["subscription.created"],"lists":["battery-missing"]}""",
            $$"""{"url":"{{Loopback}}","events":["subscription.created"],"lists":["'; DROP TABLE lists; --"]}""",
            $$"""{"url":"{{Loopback}}","events":["subscription.created"],"lists":[null]}""",
            $$"""{"url":"{{Loopback}}","events":["subscription.created"],"description":"a\u0000b"}""",
            $$"""{"url":"{{Loopback}}\u0000","events":["subscription.created"]}""",
            $$"""{"url":"http://127.0.0.1:9/a\u0000b","events":["subscription.created"]}""",
            $$"""{"url":"http://127.0.0.1:9/\ud800","events":["subscription.created"]}""",
            $$"""{"url":"{{Loopback}}","events":["subscription.created", null]}""",
            $$"""{"url":"{{Loopback}}","events":["subscription.created"],"lists":[{{string.Join(",", Enumerable.Repeat($"\"{targets.List}\"", 101))}}]}""",
            $$"""{"url":"{{Loopback}}","events":[{{string.Join(",", Enumerable.Repeat("\"subscription.created\"", 21))}}]}""",
        })
        {
            yield return new("hostile strings", Webhooks, "POST", "/api/admin/webhooks", Expect.Problem, BodyCases.Utf8(body), "application/json", Headers: admin);
        }

        // ids: unknown, out of range, not numbers; the real endpoint only where nothing can change
        // ("+1" is 1 to the route's long constraint: a segment that names a real row is left out)
        foreach (var id in AdminCases.HostileSegments.Append("999999").Where(id => !Names(id, targets.WebhookId) && !Names(id, targets.DeliveryId)))
        {
            yield return new("hostile path segments", Webhook, "DELETE", $"/api/admin/webhooks/{id}", Expect.Problem, Headers: admin);
            yield return new("hostile path segments", Deliveries, "GET", $"/api/admin/webhooks/{id}/deliveries", Expect.Problem, Headers: admin);
            yield return new("hostile path segments", Retry, "POST", $"/api/admin/webhooks/{id}/deliveries/{targets.DeliveryId}/retry", Expect.Problem, Headers: admin);
            yield return new("hostile path segments", Retry, "POST", $"/api/admin/webhooks/{targets.WebhookId}/deliveries/{id}/retry", Expect.Problem, Headers: admin);
        }

        // a delivery that is not dead cannot be retried (409), whatever the request carries
        foreach (var (body, type) in new (string?, string?)[] { (null, null), ("{}", "application/json"), ("{\"force\":true}", "application/json"), ("x", "text/plain"), ("{", "application/json") })
        {
            yield return new("hostile strings", Retry, "POST", $"/api/admin/webhooks/{targets.WebhookId}/deliveries/{targets.DeliveryId}/retry", Expect.Problem,
                body is null ? null : BodyCases.Utf8(body), type, Headers: admin);
        }

        foreach (var c in BodyCases.MalformedMultipart(Retry, "POST", $"/api/admin/webhooks/{targets.WebhookId}/deliveries/{targets.DeliveryId}/retry", Expect.Problem, admin, everyTruncation: false))
        {
            yield return c;
        }

        foreach (var limit in new[] { "0", "-1", "1001", "2147483648", "99999999999999999999", "abc", "1e3", "1.5", "%20", "%00", "1,2", "0x10", "NaN", "Infinity", "%2B0", "-0" })
        {
            yield return new("hostile query values", Deliveries, "GET", $"/api/admin/webhooks/{targets.WebhookId}/deliveries?limit={limit}", Expect.Problem, Headers: admin);
        }

        yield return new("hostile query values", Deliveries, "GET", $"/api/admin/webhooks/{targets.WebhookId}/deliveries?limit=5&limit=6", Expect.Problem, Headers: admin);

        foreach (var query in PageCases.OddQueries)
        {
            yield return new("odd query strings", Webhooks, "GET", "/api/admin/webhooks" + query, Expect.Unchanged(200, "application/json"), Headers: admin);
        }
    }

    static bool Names(string segment, long id) =>
        long.TryParse(Uri.UnescapeDataString(segment), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value == id;
}
