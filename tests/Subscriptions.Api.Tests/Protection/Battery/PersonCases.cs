using Subscriptions.Api.Kernel;

namespace Subscriptions.Api.Tests.Protection.Battery;

/// <summary>
/// The admin routes for one person and for dead letters, with the right key. Path segments that
/// are no address, an unknown address, and the battery's own pending address (whose resend the
/// caps refuse: it was just mailed); dead-letter filters that are always refused, so that no
/// variation can queue anything.
/// </summary>
public static class PersonCases
{
    public const string Person = "/api/admin/subscribers/{email}";
    public const string Resend = "/api/admin/subscribers/{email}/resend";
    public const string DeadRetry = "/api/admin/outbox/dead/retry";

    public static IEnumerable<Case> Cases(BatteryTargets targets)
    {
        KeyValuePair<string, string>[] admin = [new("Authorization", $"Bearer {targets.AdminKey}")];

        foreach (var segment in AdminCases.HostileSegments.Concat(["battery", "battery@", "%40example.org", "battery%40example.org%00",
            "battery%40example.org%0D%0ABcc:x%40y.z", new string('a', 300) + "%40example.org", "%22battery%22%40example.org", "battery%40ex%D0%B0mple.org",
            "battery-unknown%40example.org", "BATTERY-UNKNOWN%40EXAMPLE.ORG"]))
        {
            if (EmailAddress.TryNormalize(Uri.UnescapeDataString(segment), out var address) && !address.StartsWith("battery-unknown@", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"{segment} is {address}, which the service may know");
            }

            yield return new("hostile path segments", Person, "GET", $"/api/admin/subscribers/{segment}", Expect.Problem, Headers: admin);
            yield return new("hostile path segments", Resend, "POST", $"/api/admin/subscribers/{segment}/resend", Expect.Problem, Headers: admin);
        }

        // the battery's pending address was mailed a moment ago: the caps refuse (429), nothing is queued
        foreach (var spelling in new[] { "battery%40example.org", "BATTERY%40Example.ORG" })
        {
            yield return new("resend within the caps", Resend, "POST", $"/api/admin/subscribers/{spelling}/resend", Expect.Problem, Headers: admin);
            yield return new("resend within the caps", Resend, "POST", $"/api/admin/subscribers/{spelling}/resend", Expect.Problem,
                BodyCases.Utf8("{\"force\":true}"), "application/json", Headers: admin);
        }

        // every variation keeps an unknown kind or an empty time range, either of which is refused
        var retry = new JsonBody(DeadRetry, "POST", "/api/admin/outbox/dead/retry", admin,
            [("kind", "\"battery\""), ("since", "\"2026-02-01T00:00:00Z\""), ("until", "\"2026-01-01T00:00:00Z\"")]);
        foreach (var c in retry.Cases())
        {
            yield return c;
        }

        foreach (var value in AdminCases.Dates.Select(d => Uri.UnescapeDataString(d)).Concat(["", " ", "2026-01-01T00:00:00", "1767225600"]))
        {
            yield return new("hostile dates", DeadRetry, "POST", "/api/admin/outbox/dead/retry", Expect.Problem,
                BodyCases.Utf8($"{{\"since\":{JsonBody.Quote(value)},\"until\":\"2000-01-01T00:00:00Z\"}}"), "application/json", Headers: admin);
        }

        foreach (var kind in new[] { "Confirmation", "WEBHOOK", "mail", "confirmation ", "webhook\u0000", "*", "%", "confirmation,webhook" })
        {
            yield return new("hostile kinds", DeadRetry, "POST", "/api/admin/outbox/dead/retry", Expect.Problem,
                BodyCases.Utf8($"{{\"kind\":{JsonBody.Quote(kind)}}}"), "application/json", Headers: admin);
        }
    }
}
