using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Hosting;

/// <summary>The real Prometheus (Debian's package, which tests/run.sh installs) scraping the management port.</summary>
public class PrometheusTests(ApiFixture fixture) : ApiTest(fixture)
{
    const string PrometheusBinary = "/usr/bin/prometheus";

    [Fact]
    public async Task Prometheus_scrapes_the_management_port_and_reads_back_the_signup_and_funnel_counters()
    {
        Assert.True(File.Exists(PrometheusBinary), $"{PrometheusBinary} is missing: tests/run.sh installs it (apt-get install prometheus).");
        await using var service = await RunningService.StartAsync(new(Fixture.AppSettings())
        {
            ["ConnectionStrings:Subscriptions"] = await Fixture.Postgres.CreateDatabaseAsync(),
        }, managementPort: true);

        var folder = Directory.CreateTempSubdirectory("prometheus-");
        try
        {
            var config = Path.Combine(folder.FullName, "prometheus.yml");
            await File.WriteAllTextAsync(config, $"""
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                scrape_configs:
                  - job_name: subscriptions
                    metrics_path: /metrics
                    static_configs:
                      - targets: ["{service.ManagementAddress!.Authority}"]
                """);
            var prometheusAddress = new Uri($"http://127.0.0.1:{LocalNetworking.FreePort()}/");
            await using var prometheus = ExternalTool.Start(PrometheusBinary,
            [
                $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(folder.FullName, "data")}",
                $"--web.listen-address={prometheusAddress.Authority}", "--log.level=warn",
            ]);
            using var api = new HttpClient { BaseAddress = prometheusAddress };

            // a scrape that succeeded: the target is up, so the service's port and path are right
            await Eventually.TrueAsync(async () => await Query(api, "up{job=\"subscriptions\"}") == 1, TimeSpan.FromSeconds(30),
                $"Prometheus scraped the management port. Its output: {prometheus.Output}");

            using var client = service.CreateHttpClient();
            foreach (var email in new[] { "one@example.org", "two@example.org", "three@example.org" })
            {
                (await client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true, utm_source = "newsletter" })).EnsureSuccessStatusCode();
            }

            (await client.PostAsJsonAsync("/api/subscriptions", new { email = "not an address", consent = true })).Dispose();
            var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync("two@example.org"));
            (await client.PostAsync(ConfirmationMailTests.ConfirmationLink(mail).PathAndQuery, null)).Dispose();

            // read back through Prometheus's own HTTP API, as a dashboard or an alert would
            await Eventually.TrueAsync(async () =>
                await Query(api, "sum(subscriptions_signups_total{outcome=\"accepted\"})") == 3
                && await Query(api, "sum(subscriptions_signups_total{outcome=\"invalid\"})") == 1
                && await Query(api, "sum(subscriptions_confirmations_total{list=\"news\"})") == 1
                && await Query(api, "sum(subscriptions_time_to_confirm_seconds_count{list=\"news\"})") == 1,
                TimeSpan.FromSeconds(30), "Prometheus shows 3 accepted and 1 invalid signups, 1 confirmation and its time to confirm");

            Assert.Equal(1, await Query(api, "sum(subscriptions_confirmations_total) / sum(subscriptions_signups_total{outcome=\"accepted\"})") * 3, 3);
            Assert.True(await Query(api, "sum(subscriptions_mails_total{outcome=\"sent\"})") >= 3);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>An instant query's single value, or NaN while Prometheus or the series is not there yet.</summary>
    static async Task<double> Query(HttpClient api, string promql)
    {
        HttpResponseMessage response;
        try
        {
            response = await api.GetAsync($"/api/v1/query?query={Uri.EscapeDataString(promql)}");
        }
        catch (HttpRequestException)
        {
            return double.NaN; // not listening yet
        }

        using var _ = response;
        if (!response.IsSuccessStatusCode)
        {
            return double.NaN;
        }

        var data = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("data");
        var result = data.GetProperty("result");
        return result.GetArrayLength() == 0
            ? double.NaN
            : double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
    }
}
