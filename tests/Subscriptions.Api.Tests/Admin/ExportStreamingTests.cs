using System.Net;
using Subscriptions.Api.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Subscriptions.Api.Tests.Admin;

public class ExportStreamingTests(ApiFixture fixture, ITestOutputHelper output) : ApiTest(fixture)
{
    const int Rows = 100_000;

    const string ExportRunning = """
        SELECT count(*) FROM pg_stat_activity
        WHERE state = 'active' AND backend_type = 'client backend' AND query LIKE '%FROM subscriptions sub%ORDER BY sub.id%' AND pid <> pg_backend_pid()
        """;

    /// <param name="userAgent">the consent evidence's user agent (the leaving-client test's is as long as the service keeps: 512 characters)</param>
    Task Seed(string userAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36") => Execute($"""
            INSERT INTO subscribers (email, email_as_typed, name, created_at, updated_at)
            SELECT 'bulk' || i || '@example.org', 'Bulk' || i || '@Example.org', 'Reader number ' || i, now(), now()
            FROM generate_series(1, {Rows}) AS i;
            INSERT INTO subscriptions (subscriber_id, list_id, status, created_at, updated_at, confirmed_at,
                                       consent_at, consent_ip, consent_user_agent, consent_source, consent_text_version)
            SELECT id, 1, 'confirmed', now(), now(), now(), now(), '192.0.2.1',
                   '{userAgent}', 'https://news.example/newsletter/signup', '1'
            FROM subscribers;
            -- fresh statistics: after a reset the tables were analyzed empty, and a plan made for
            -- empty tables joins 100,000 rows to 100,000 in a nested loop (minutes, not seconds)
            ANALYZE subscribers, subscriptions;
            """);

    /// <summary>
    /// An instance whose database connection, and a client whose connection, take at most 64 KiB
    /// into the kernel at a time. Left to autotune, loopback receive buffers here grow to 32 MB
    /// (net.ipv4.tcp_rmem), enough for most of the export to sit in the kernel with the query done
    /// (the leaving-client test failed on it once in CI): these tests are about the service, not
    /// about how much a host's kernel will buffer.
    /// </summary>
    SubscriptionsApp SmallBuffersApp() =>
        new($"{Fixture.ConnectionString};Socket Receive Buffer Size={SmallBuffer}", Fixture.AppSettings());

    static HttpClient SmallBuffersAdminClient(SubscriptionsApp app)
    {
        // set before connecting, so that the window offered to the service is sized by it
        var admin = LoopbackClients.WithSockets(app.BaseAddress, socket => socket.ReceiveBufferSize = SmallBuffer);
        admin.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);
        return admin;
    }

    const int SmallBuffer = 64 * 1024;

    [Fact]
    public async Task An_export_of_100000_rows_streams_while_the_query_runs_and_memory_stays_flat()
    {
        await Seed();
        await using var app = SmallBuffersApp();
        using var admin = SmallBuffersAdminClient(app);
        var before = GC.GetTotalMemory(forceFullCollection: true);

        using var response = await admin.GetAsync("/api/admin/export?format=csv", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync();
        var first = new byte[64 * 1024];
        await body.ReadExactlyAsync(first);

        // The first 64 KiB are here and the query is still running: rows go out as they are read.
        Assert.Equal(1, await Scalar<long>(ExportRunning));
        var during = GC.GetTotalMemory(forceFullCollection: true);

        long bytes = first.Length, lines = first.Count(b => b == '\n');
        var buffer = new byte[64 * 1024];
        for (int read; (read = await body.ReadAsync(buffer)) > 0;)
        {
            bytes += read;
            lines += buffer.AsSpan(0, read).Count((byte)'\n');
        }

        output.WriteLine($"{Rows} rows, {bytes / 1_000_000.0:F1} MB; managed heap {before / 1_000_000.0:F1} MB before, {during / 1_000_000.0:F1} MB while streaming");
        Assert.Equal(Rows + 1, lines);
        Assert.True(bytes > 20_000_000, $"{bytes} bytes");
        // Holding the export would take more than the whole file; streaming holds a few buffers.
        Assert.InRange(during - before, long.MinValue, 8_000_000);
        app.AssertNoErrorsLogged();
    }

    [Theory]
    [InlineData("csv")]
    [InlineData("ndjson")]
    public async Task A_client_that_leaves_mid_export_ends_the_query_and_the_next_export_works(string format)
    {
        // Between PostgreSQL's container and the service, Podman's port forwarder (rootlessport) copies
        // through sockets of its own (measured here: 4 MB queued on its side facing the service; the
        // one facing PostgreSQL may take up to net.ipv4.tcp_rmem's 32 MB): the ~25 MB COPY of short
        // rows could end in them while the client still held its first 64 KiB (it did, once in CI).
        // Rows with the longest user agent the service keeps make it ~70 MB.
        await Seed(userAgent: string.Concat(Enumerable.Repeat("Mozilla/5.0 ", 43))[..512]);
        await using var app = SmallBuffersApp();
        using (var admin = SmallBuffersAdminClient(app))
        {
            using var response = await admin.GetAsync($"/api/admin/export?format={format}", HttpCompletionOption.ResponseHeadersRead);
            await using var body = await response.Content.ReadAsStreamAsync();
            await body.ReadExactlyAsync(new byte[64 * 1024]);
            // not reading: the service waits on the socket with the query open
            await Task.Delay(300);
            Assert.Equal(1, await Scalar<long>(ExportRunning));
        }

        await Eventually.TrueAsync(async () => await Scalar<long>(ExportRunning) == 0, TimeSpan.FromSeconds(10), "the export's query to end");
        using var again = AdminClient();
        var lines = (await again.GetStringAsync($"/api/admin/export?format={format}&status=pending")).Count(c => c == '\n');
        Assert.Equal(format == "csv" ? 1 : 0, lines);
        app.AssertNoErrorsLogged();
    }
}
