using System.Text;

namespace Subscriptions.Api.Tests.Protection.Battery;

/// <summary>
/// The import with the right key and files that cannot be imported at all: each must be a 400 (or
/// 415) problem before a row is written. Rows that are bad one by one are reported in a 200 and
/// tested in Import/ImportHostileInputTests; every file here holds a valid row, so a case that got
/// through would store it.
/// </summary>
public static class ImportCases
{
    public const string Import = "/api/admin/import";

    const string ValidRow = "battery-import@example.org,2024-01-01T00:00:00Z,192.0.2.1";

    public static IEnumerable<Case> Cases(BatteryTargets targets)
    {
        KeyValuePair<string, string>[] admin = [new("Authorization", $"Bearer {targets.AdminKey}")];
        var file = BodyCases.Utf8($"email,consent_at,consent_ip\n{ValidRow}\n");

        foreach (var query in new[] { "format=xml", "format=", "format=CSV", "format=csv%00", "list=NEWS", "list=no-such-list", "list=%27%20OR%201%3D1",
            "list=" + new string('a', 64), "dryRun=maybe", "dryRun=", "sendConfirmations=2", "dryRun=true&dryRun=false" })
        {
            yield return new("hostile query values", Import, "POST", $"{Import}?{query}", Expect.Problem, file, "text/csv", Headers: admin);
        }

        var unimportable = new (string Body, string MediaType)[]
        {
            ("", "text/csv"),
            ("", "application/x-ndjson"),
            ("name,consent_at\nAda,2024-01-01T00:00:00Z\n", "text/csv"),
            ("emial,consent_at,consent_ip\n" + ValidRow, "text/csv"),
            ("\"email,consent_at,consent_ip\n" + ValidRow, "text/csv"),
            ("{\"name\":\"Ada\"}\n{\"email\":\"battery-import@example.org\"}", "application/x-ndjson"),
            ("{email: battery-import@example.org}\n{\"email\":\"battery-import@example.org\"}", "application/x-ndjson"),
            ("[\"battery-import@example.org\"]\n", "application/x-ndjson"),
            ("null\n", "application/json"),
            ("{\"email\":\"battery-import@example.org\"", "application/json"),
        };
        foreach (var (body, mediaType) in unimportable)
        {
            yield return new("unimportable files", Import, "POST", Import, Expect.Problem, BodyCases.Utf8(body), mediaType, Headers: admin);
        }

        yield return new("unimportable files", Import, "POST", Import, Expect.Problem,
            [.. Enumerable.Range(0, 64 * 1024).Select(i => (byte)(i * 7919 % 251))], "text/csv", Headers: admin);
        yield return new("unimportable files", Import, "POST", Import, Expect.Problem, file, "application/octet-stream", Headers: admin);
        yield return new("unimportable files", Import, "POST", Import, Expect.Problem,
            Encoding.Unicode.GetBytes("emial\n" + ValidRow), "text/csv", Headers: admin);
        yield return new("huge bodies", Import, "POST", Import, Expect.Problem,
            [.. Enumerable.Repeat((byte)'e', 3 * 1024 * 1024), .. BodyCases.Utf8("\n" + ValidRow)], "text/csv", Chunked: true, Headers: admin);

        foreach (var c in BodyCases.WrongCharsets(Import, "POST", Import, Expect.Problem, "text/csv", $"email,consent_at,consent_ip\n{ValidRow}\n", admin))
        {
            yield return c;
        }
    }
}
