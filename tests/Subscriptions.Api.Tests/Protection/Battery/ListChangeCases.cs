namespace Subscriptions.Api.Tests.Protection.Battery;

/// <summary>
/// PATCH and DELETE of a list with the right key. Patches go to a list that does not exist (404),
/// or to the battery's list taking a required field away or breaking one (400), so nothing is
/// changed; DELETE gets path segments that name no list (404) and the default list (409).
/// </summary>
public static class ListChangeCases
{
    public static IEnumerable<Case> Cases(BatteryTargets targets)
    {
        KeyValuePair<string, string>[] admin = [new("Authorization", $"Bearer {targets.AdminKey}")];
        (string, string)[] fields =
        [
            ("name", "\"Battery\""), ("senderEmail", "\"desk@example.org\""), ("welcome", "false"), ("hidden", "true"),
            ("consentText", "\"A text it never had.\""), ("consentTextVersion", "\"v1\""),
        ];

        // (not the battery's own list: a patch is partial, so a variation that leaves a field out would be a valid change)
        var missing = new JsonBody(AdminCases.List, "PATCH", "/api/admin/lists/battery-missing", admin, fields);
        foreach (var c in missing.Cases())
        {
            yield return c;
        }

        // a patch that takes a required field away, or gives a wrong type, to the battery's list
        foreach (var body in new[] { "{\"name\":null}", "{\"consentText\":null}", "{\"consentTextVersion\":null}", "{\"welcome\":\"yes\"}", "{\"hidden\":1}",
            "{\"allowedOrigins\":\"https://x.example\"}", "{\"translations\":[]}", "{\"translations\":{\"de\":{\"name\":null}}}", "{\"translations\":{\"xx\":{\"name\":\"x\",\"consentText\":\"x\"}}}",
            "{\"defaultLocale\":\"not a tag\"}", "{\"thankYouUrl\":\"javascript:alert(1)\"}", "{\"name\":\"a\\u0000b\"}", "{\"Name\":null}" })
        {
            yield return new("patches that break the list", AdminCases.List, "PATCH", $"/api/admin/lists/{targets.List}", Expect.Problem,
                BodyCases.Utf8(body), "application/merge-patch+json", Headers: admin);
        }

        foreach (var segment in AdminCases.HostileSegments.Concat(["battery-missing", "nope", "news-", "news"]))
        {
            yield return new("hostile path segments", AdminCases.List, "DELETE", $"/api/admin/lists/{segment}", Expect.Problem, Headers: admin);
            yield return new("hostile path segments", AdminCases.List, "PATCH", $"/api/admin/lists/{segment}", Expect.Problem,
                BodyCases.Utf8("{\"name\":null}"), "application/json", Headers: admin);
        }
    }
}
