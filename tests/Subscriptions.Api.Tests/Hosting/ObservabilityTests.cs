using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Hosting;

public partial class ObservabilityTests(ApiFixture fixture) : ApiTest(fixture)
{
    [Fact]
    public async Task The_openapi_document_is_valid_and_describes_every_public_and_admin_endpoint()
    {
        var document = await Client.GetStringAsync("/openapi/v1.json");

        var verdict = await ValidateWithIndependentValidator(document);
        Assert.True(verdict.GetProperty("valid").GetBoolean(), verdict.ToString());

        var root = JsonDocument.Parse(document).RootElement;
        var operations = root.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(op => (Route: $"{op.Name.ToUpperInvariant()} {path.Name}", Operation: op.Value)))
            .ToDictionary(o => o.Route, o => o.Operation);
        string[] expected =
        [
            "POST /api/subscriptions", "GET /confirm/{token}", "POST /confirm/{token}", "GET /unsubscribe/{token}", "POST /unsubscribe/{token}",
            "GET /manage/{token}", "POST /manage/{token}",
            "GET /api/admin/lists", "POST /api/admin/lists", "GET /api/admin/lists/{slug}", "PUT /api/admin/lists/{slug}",
            "PATCH /api/admin/lists/{slug}", "DELETE /api/admin/lists/{slug}",
            "GET /api/admin/export", "POST /api/admin/import", "DELETE /api/admin/subscribers/{email}", "GET /api/admin/stats",
            "GET /api/admin/subscribers/{email}", "POST /api/admin/subscribers/{email}/resend", "POST /api/admin/outbox/dead/retry",
            "GET /api/admin/webhooks", "POST /api/admin/webhooks", "DELETE /api/admin/webhooks/{id}",
            "GET /api/admin/webhooks/{id}/deliveries", "POST /api/admin/webhooks/{id}/deliveries/{deliveryId}/retry",
            "GET /api/admin/suppressions", "POST /api/admin/suppressions", "DELETE /api/admin/suppressions/{email}",
            "POST /api/webhooks/bounces/{provider}",
            "GET /embed/form", "GET /embed/subscribe.js", "GET /health/live", "GET /health/ready",
        ];
        Assert.Equal(expected.Order(), operations.Keys.Order());
        Assert.All(operations.Where(o => o.Key.Contains("/api/admin/", StringComparison.Ordinal)),
            o => Assert.True(o.Value.TryGetProperty("security", out _), $"{o.Key} has no security requirement"));
        Assert.Equal("bearer", root.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer").GetProperty("scheme").GetString());
        Assert.True(operations["POST /api/subscriptions"].GetProperty("responses").TryGetProperty("400", out var invalid));
        Assert.Contains("problem+json", invalid.GetProperty("content").EnumerateObject().First().Name);
    }

    /// <remarks>
    /// Against the service as a process of its own: the meter listener is process-wide, so in
    /// this test process it would add up the counters of every service instance the tests start.
    /// </remarks>
    [Fact]
    public async Task Metrics_show_the_domain_counters_moving_after_a_signup_a_confirmation_and_an_unsubscribe()
    {
        await using var service = await RunningService.StartAsync(new(Fixture.AppSettings())
        {
            ["ConnectionStrings:Subscriptions"] = await Fixture.Postgres.CreateDatabaseAsync(),
        });
        using var client = service.CreateHttpClient();
        var before = await Metrics(client);

        await client.PostAsJsonAsync("/api/subscriptions", new { email = "counted@example.org", consent = true });
        var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync("counted@example.org"));
        await client.PostAsync(ConfirmationMailTests.ConfirmationLink(mail).PathAndQuery, null);
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);
        var row = JsonDocument.Parse(await client.GetStringAsync("/api/admin/export?format=ndjson")).RootElement;
        await client.PostAsync(new Uri(row.GetProperty("unsubscribe_url").GetString()!).PathAndQuery, null);
        var after = await Metrics(client);

        double Moved(string series) => after.GetValueOrDefault(series) - before.GetValueOrDefault(series);
        Assert.Equal(1, Moved("subscriptions_signups_total{list=\"news\",outcome=\"accepted\",source=\"none\"}"));
        Assert.Equal(1, Moved("subscriptions_confirmations_total{list=\"news\",reminded=\"false\",source=\"none\"}"));
        Assert.Equal(1, Moved("subscriptions_unsubscribes_total"));
        Assert.Equal(1, Moved("subscriptions_mails_total{outcome=\"sent\"}"));
        Assert.Contains(after.Keys, k => k.StartsWith("subscriptions_outbox_waiting", StringComparison.Ordinal));
        Assert.Contains(after.Keys, k => k.StartsWith("http_server_request_duration_seconds_count", StringComparison.Ordinal));
        Assert.Contains(after.Keys, k => k.StartsWith("dotnet_gc_collections_total", StringComparison.Ordinal));
        Assert.Contains(after.Keys, k => k.StartsWith("db_client_operation_duration_seconds_count", StringComparison.Ordinal));
    }

    /// <summary>Prometheus text exposition as series → value, without the otel_scope labels.</summary>
    internal static async Task<Dictionary<string, double>> Metrics(HttpClient client)
    {
        var response = await client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var series = new Dictionary<string, double>();
        foreach (var line in (await response.Content.ReadAsStringAsync()).Split('\n'))
        {
            var match = Sample().Match(line);
            if (match.Success)
            {
                var labels = string.Join(",", match.Groups["labels"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries)
                    .Where(l => !l.StartsWith("otel_scope", StringComparison.Ordinal)));
                var key = labels.Length == 0 ? match.Groups["name"].Value : $"{match.Groups["name"].Value}{{{labels}}}";
                series[key] = series.GetValueOrDefault(key) + double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return series;
    }

    static async Task<JsonElement> ValidateWithIndependentValidator(string document)
    {
        var cli = Path.Combine(RepositoryPaths.Root, "tests", ".tools", "node_modules", "@seriousme", "openapi-schema-validator", "bin", "validate-api-cli.js");
        Assert.True(File.Exists(cli), $"{cli} is missing: tests/run.sh installs it (npm @seriousme/openapi-schema-validator).");
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, document);
        try
        {
            var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(cli);
            start.ArgumentList.Add(file);
            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            return JsonDocument.Parse(output).RootElement.Clone();
        }
        finally
        {
            File.Delete(file);
        }
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>[-+0-9.eEInfa]+)")]
    private static partial Regex Sample();
}
