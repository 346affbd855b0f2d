using Subscriptions.Api.Kernel;

namespace Subscriptions.Api.Tests.Protection.Battery;

/// <summary>
/// The suppression admin routes with the right key. The body every JSON variation starts from
/// names no valid address, so no variation can suppress anything; bodies with a valid address
/// break another field.
/// </summary>
public static class SuppressionCases
{
    public const string Suppressions = "/api/admin/suppressions/";
    public const string Suppression = "/api/admin/suppressions/{email}";

    public static IEnumerable<Case> Cases(BatteryTargets targets)
    {
        KeyValuePair<string, string>[] admin = [new("Authorization", $"Bearer {targets.AdminKey}")];

        var suppress = new JsonBody(Suppressions, "POST", "/api/admin/suppressions", admin,
            [("email", "\"battery@\""), ("reason", "\"manual\""), ("source", "\"battery\""), ("eventId", "\"evt-1\"")])
        {
            Storable = (field, value) => field == "email" && EmailAddress.TryNormalize(value, out _),
        };
        foreach (var c in suppress.Cases())
        {
            yield return c;
        }

        // a valid address with something else wrong: nothing may be suppressed
        foreach (var (field, json) in new[]
        {
            ("reason", "\"spite\""), ("reason", "\"MANUAL\""), ("reason", "\"manual\\u0000\""), ("reason", "\"\""),
            ("source", "\"a\\u0000b\""), ("source", "\"\\u001b[31m\""), ("source", JsonBody.Quote(new string('s', 101))), ("source", "\"  \""),
            ("eventId", "\"a\\u0000b\""), ("eventId", "\"\\ud800\""), ("eventId", JsonBody.Quote(new string('e', 201))), ("eventId", "\"\""),
        })
        {
            var fields = new Dictionary<string, string> { ["email"] = "\"battery-valid@example.org\"", [field] = json };
            yield return new("hostile strings", Suppressions, "POST", "/api/admin/suppressions", Expect.Problem,
                BodyCases.Utf8("{" + string.Join(",", fields.Select(f => $"\"{f.Key}\":{f.Value}")) + "}"), "application/json", Headers: admin);
        }

        foreach (var value in new[] { "0", "-1", "abc", "1e3", "1.5", "%20", "%00", "0x10", "NaN", "99999999999999999999", "1,2" })
        {
            yield return new("hostile query values", Suppressions, "GET", $"/api/admin/suppressions?limit={value}", Expect.Problem, Headers: admin);
            yield return new("hostile query values", Suppressions, "GET", $"/api/admin/suppressions?after={value}", Expect.Problem, Headers: admin);
        }

        foreach (var value in new[] { "1001", "2147483648" })
        {
            yield return new("hostile query values", Suppressions, "GET", $"/api/admin/suppressions?limit={value}", Expect.Problem, Headers: admin);
        }

        foreach (var value in PageCases.HostileListValues.Where(v => v.Length > 0).Concat(["spite", "MANUAL", "manual%00", "hard_bounce%20"]))
        {
            yield return new("hostile query values", Suppressions, "GET", $"/api/admin/suppressions?reason={value}", Expect.Problem, Headers: admin);
        }

        foreach (var query in PageCases.OddQueries)
        {
            yield return new("odd query strings", Suppressions, "GET", "/api/admin/suppressions" + query, Expect.Unchanged(200, "application/json"), Headers: admin);
        }

        // lifting: segments that are no address (400), and an address that is not suppressed (404)
        foreach (var segment in AdminCases.HostileSegments.Concat(["battery", "battery@", "%40example.org", "battery%40example.org%00",
            "battery%40example.org%0D%0ABcc:x%40y.z", new string('a', 300) + "%40example.org", "battery-unknown%40example.org", "BATTERY-UNKNOWN%40EXAMPLE.ORG"]))
        {
            yield return new("hostile path segments", Suppression, "DELETE", $"/api/admin/suppressions/{segment}", Expect.Problem, Headers: admin);
        }
    }
}
