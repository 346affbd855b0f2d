using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Hosting;

/// <summary>Management__Urls: /metrics and the probes on a port of their own, as an operator runs the service.</summary>
public class ManagementPortTests(ApiFixture fixture) : ApiTest(fixture)
{
    const string SomeDatabase = "Host=127.0.0.1;Port=1;Database=none;Username=none";

    static readonly string[] ManagementPaths = ["/metrics", "/health/live", "/health/ready"];

    async Task<RunningService> StartWithManagementPort(string? managementUrls = null)
    {
        var settings = new Dictionary<string, string?>(Fixture.AppSettings())
        {
            ["ConnectionStrings:Subscriptions"] = await Fixture.Postgres.CreateDatabaseAsync(),
        };
        if (managementUrls is not null)
        {
            settings["Management:Urls"] = managementUrls;
        }

        return await RunningService.StartAsync(settings, managementPort: true);
    }

    [Fact]
    public async Task Metrics_and_probes_answer_only_on_the_management_port_and_nothing_else_answers_there()
    {
        await using var service = await StartWithManagementPort();
        using var management = service.CreateManagementClient();
        using var client = service.CreateHttpClient();
        using var admin = service.CreateHttpClient();
        admin.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);

        foreach (var path in ManagementPaths)
        {
            Assert.Equal(HttpStatusCode.OK, (await management.GetAsync(path)).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(path)).StatusCode);
        }

        // the public API still answers on the public URL, and none of it on the management port
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/subscriptions", new { email = "public@example.org", consent = true })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/admin/stats")).StatusCode);
        using var managementAdmin = service.CreateManagementClient();
        managementAdmin.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);
        Assert.Equal(HttpStatusCode.NotFound, (await management.PostAsJsonAsync("/api/subscriptions", new { email = "leak@example.org", consent = true })).StatusCode);
        foreach (var path in new[] { "/api/admin/stats", "/api/admin/export", "/api/admin/lists", "/openapi/v1.json", "/embed/form", "/confirm/x", "/manage/x", "/" })
        {
            Assert.Equal(HttpStatusCode.NotFound, (await managementAdmin.GetAsync(path)).StatusCode);
        }

        var paths = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json")).RootElement.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/api/subscriptions", out _));
        Assert.All(ManagementPaths, p => Assert.False(paths.TryGetProperty(p, out _), $"{p} is in the public document"));

        // and what the management port counts is the service's own work
        var metrics = await ObservabilityTests.Metrics(management);
        Assert.Equal(1, metrics["subscriptions_signups_total{list=\"news\",outcome=\"accepted\",source=\"none\"}"]);
    }

    [Fact]
    public async Task Hostile_requests_to_the_management_port_get_4xx_never_5xx()
    {
        await using var service = await StartWithManagementPort();
        using var management = service.CreateManagementClient();
        var statuses = new List<(string What, int Status)>();

        foreach (var path in new[] { "/nope", "/metrics/", "/metrics/../admin", "/health", "/health/ready/x", "/%00", "/%ff%fe", "/" + new string('a', 8000), "/metrics?x=" + new string('%', 3000) })
        {
            statuses.Add((path[..Math.Min(path.Length, 30)], (int)(await management.GetAsync(path)).StatusCode));
        }

        foreach (var method in new[] { "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW" })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), "/metrics") { Content = new StringContent("{\"x\":", Encoding.UTF8, "application/json") };
            statuses.Add(($"{method} /metrics", (int)(await management.SendAsync(request)).StatusCode));
        }

        using (var huge = new HttpRequestMessage(HttpMethod.Get, "/health/live"))
        {
            huge.Headers.TryAddWithoutValidation("X-Huge", new string('h', 64 * 1024));
            statuses.Add(("64 KiB header", (int)(await management.SendAsync(huge)).StatusCode));
        }

        // below HttpClient: a broken request line, a truncated request, a header without a colon, bytes that are not text
        var port = service.ManagementAddress!.Port;
        foreach (var raw in new[]
        {
            "GARBAGE\r\n\r\n", "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", "GET /metrics HTTP/1.1\r\nHost x\r\n\r\n",
"\u00ff\u00fe\u0000\u0001\r\n\r\n",
        })
        {
            statuses.Add((raw[..Math.Min(raw.Length, 20)], await RawStatus(port, raw)));
        }

        // 0: the server closed the connection without an answer (a request it cannot read)
        Assert.All(statuses, s => Assert.True(s.Status < 500, $"{s.What}: {s.Status}"));
        Assert.Contains(statuses, s => s.Status == 404);
        Assert.Contains(statuses, s => s.Status == 431);

        // The one 5xx left is the protocol's own: Kestrel answers an HTTP version it does not speak with
        // 505 before any of the service's code runs, on every port alike (or closes before we read it).
        Assert.True(await RawStatus(port, "GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n") is 505 or 0);
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public async Task Several_management_urls_IPv4_and_IPv6_all_serve_the_management_endpoints()
    {
        int v6Port;
        using (var probe = new TcpListener(IPAddress.IPv6Loopback, 0))
        {
            probe.Start();
            v6Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var v4 = $"http://127.0.0.1:{LocalNetworking.FreePort()}";
        var v6 = $"http://[::1]:{v6Port}";
        await using var service = await StartWithManagementPort($"{v4};{v6}");

        foreach (var url in new[] { v4, v6 })
        {
            using var management = new HttpClient { BaseAddress = new Uri(url) };
            Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("/health/ready")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("/metrics")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await management.GetAsync("/api/admin/stats")).StatusCode);
        }
    }

    [Theory]
    [InlineData("http://127.0.0.1:18080", "http://127.0.0.1:18080")]
    [InlineData("http://127.0.0.1:18080", "http://localhost:18080/")]
    [InlineData("http://*:18080", "http://127.0.0.1:18080")]
    [InlineData("http://127.0.0.1:18080;http://[::1]:18081", "http://127.0.0.1:9999;http://[::1]:18081")]
    public async Task A_management_url_that_is_a_public_url_stops_the_process_with_one_clear_line(string publicUrls, string managementUrls)
    {
        var (exitCode, _, stderr) = await ServiceProcess.RunAsync(["--urls", publicUrls], new()
        {
            ["ConnectionStrings__Subscriptions"] = SomeDatabase,
            ["Management__Urls"] = managementUrls,
        });

        Assert.Equal(1, exitCode);
        var line = Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.StartsWith("Configuration error: Management__Urls must not be one of the public URLs", line);
    }

    [Theory]
    [InlineData("not a url")]
    [InlineData("ftp://127.0.0.1:9090")]
    [InlineData("http://127.0.0.1:99999")]
    [InlineData("http://127.0.0.1:9090/metrics")]
    public async Task A_malformed_management_url_stops_the_process_with_one_clear_line(string managementUrls)
    {
        var (exitCode, _, stderr) = await ServiceProcess.RunAsync(["--urls", "http://127.0.0.1:18080"], new()
        {
            ["ConnectionStrings__Subscriptions"] = SomeDatabase,
            ["Management__Urls"] = managementUrls,
        });

        Assert.Equal(1, exitCode);
        var line = Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.StartsWith("Configuration error: Management__Urls must hold http(s) URLs", line);
    }

    /// <summary>The status of a hand-written request; 0 when the server closed the connection without one.</summary>
    static async Task<int> RawStatus(int port, string request)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
        tcp.Client.Shutdown(SocketShutdown.Send);
        using var reader = new StreamReader(stream, Encoding.Latin1);
        var statusLine = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));
        return statusLine is null ? 0 : int.Parse(statusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
