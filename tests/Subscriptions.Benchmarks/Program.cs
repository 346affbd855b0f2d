using System.Diagnostics;
using System.Globalization;
using System.Text;
using MailKit.Net.Smtp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Localization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MailKit.Security;
using MimeKit;
using Npgsql;
using StandardWebhooks;
using Subscriptions.Api.Confirmation;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Mail;
using Subscriptions.Api.Signup;

// Baselines for tests/bench/run.sh, each printing what it measured per second.
//   mail <smtp host> <smtp port> <count> [warmup] [relay pid]
//                                               a plain MailKit loop sending the service's own confirmation
//                                               mails (ConfirmationMail.ComposeAsync) over one connection; after
//                                               the rate, the CPU milliseconds it and the relay spent on the count
//   webhooks <url> <count> <secret> [warmup]    a plain HttpClient loop posting signed event payloads
//   receive-webhooks <port>                     the receiver both post to: answers 204, GET /count says how many came
//   signup-sql                                  prints the signup endpoint's statement, for the pgbench baseline
//   drain-outbox <connection string> <condition> for the service's side: says "ready", then returns once rows of
//                                               <condition> have waited in the outbox and none waits any more
switch (args.ElementAtOrDefault(0))
{
    case "signup-sql":
        Console.Out.Write(SignupEndpoints.SubscribeSql);
        break;
    case "webhooks":
        Console.WriteLine(await PostWebhooks(new Uri(args[1]), Number(args[2]), args[3], Number(args.ElementAtOrDefault(4) ?? "0")));
        break;
    case "drain-outbox":
        await DrainOutbox(args[1], args[2]);
        break;
    case "receive-webhooks":
        await ReceiveWebhooks(Number(args[1]));
        break;
    case "mail":
        Console.WriteLine(await SendMails(args.ElementAtOrDefault(1) ?? "127.0.0.1", Number(args.ElementAtOrDefault(2) ?? "1025"),
            Number(args.ElementAtOrDefault(3) ?? "10000"), Number(args.ElementAtOrDefault(4) ?? "0"),
            args.ElementAtOrDefault(5) is { } relay ? Number(relay) : null));
        break;
    default:
        Console.Error.WriteLine("usage: mail <host> <port> <count> [warmup] [relay pid] | webhooks <url> <count> <secret> [warmup] | receive-webhooks <port> | signup-sql | drain-outbox <connection string> <condition>");
        return 2;
}

return 0;

static int Number(string text) => int.Parse(text, CultureInfo.InvariantCulture);

// Both loops first run `warmup` unmeasured rounds, as the harness does with the service: the
// runtime compiles hot code again with what it learned (tiered PGO), on both sides alike.
static async Task<string> SendMails(string host, int port, int count, int warmup, int? relayPid)
{
    var from = MailboxAddress.Parse(new SmtpOptions().From);
    var texts = new StringLocalizer<Texts>(new ResourceManagerStringLocalizerFactory(Options.Create(new LocalizationOptions()), NullLoggerFactory.Instance));
    using var client = new SmtpClient();
    await client.ConnectAsync(host, port, SecureSocketOptions.None);
    var stopwatch = Stopwatch.StartNew();
    var (ownCpu, relayCpu) = (TimeSpan.Zero, TimeSpan.Zero);
    for (var i = -warmup; i < count; i++)
    {
        if (i == 0)
        {
            stopwatch.Restart();
            (ownCpu, relayCpu) = (Process.GetCurrentProcess().TotalProcessorTime, CpuTime(relayPid));
        }

        var link = new Uri($"http://127.0.0.1:5091/confirm/{Token.Mint().Token}");
        var message = await ConfirmationMail.ComposeAsync(
            texts, from, new MailboxAddress(null, $"baseline{i}@example.org"), "News", Languages.Default, link, TimeSpan.FromDays(7), DateTimeOffset.UtcNow);
        await client.SendAsync(message);
    }

    stopwatch.Stop();
    (ownCpu, relayCpu) = (Process.GetCurrentProcess().TotalProcessorTime - ownCpu, CpuTime(relayPid) - relayCpu);
    await client.DisconnectAsync(true);
    return $"{count / stopwatch.Elapsed.TotalSeconds:F0} {ownCpu.TotalMilliseconds:F0} {relayCpu.TotalMilliseconds:F0}";
}

// A process's CPU time (user and system) from /proc/<pid>/stat: utime and stime, the 14th and 15th
// fields, in clock ticks (USER_HZ, 100 a second on Linux); counted after the command's closing parenthesis.
static TimeSpan CpuTime(int? pid)
{
    if (pid is null)
    {
        return TimeSpan.Zero;
    }

    var stat = File.ReadAllText($"/proc/{pid}/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return TimeSpan.FromSeconds((long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0);
}

// One connection and one prepared statement, every 20 ms. It replaces a shell loop that started
// psql 20 times a second: each start forked a process and a PostgreSQL backend (costly on these
// VMs), work charged to the service's side of the comparison alone.
static async Task DrainOutbox(string connectionString, string condition)
{
    await using var connection = new NpgsqlConnection(connectionString);
    await connection.OpenAsync();
    // From the end of the due index: rows are claimed from its start, which fills with the entries
    // of sent rows until vacuum clears them (a look from there walked them all, ~4 ms).
    await using var waiting = new NpgsqlCommand(
        $"SELECT 1 FROM outbox WHERE {condition} AND sent_at IS NULL AND dead_at IS NULL ORDER BY due_at DESC LIMIT 1", connection);
    await waiting.PrepareAsync();
    Console.WriteLine("ready");
    for (var seen = false; ; await Task.Delay(20))
    {
        var any = await waiting.ExecuteScalarAsync() is not null;
        if (!any && seen)
        {
            return;
        }

        seen |= any;
    }
}

// The payloads have the shape and size of the service's subscription.created events.
static async Task<string> PostWebhooks(Uri url, int count, string secret, int warmup)
{
    using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false });
    var webhook = new StandardWebhook(secret);
    var stopwatch = Stopwatch.StartNew();
    for (var i = -warmup; i < count; i++)
    {
        if (i == 0)
        {
            stopwatch.Restart();
        }

        var payload = $$"""{"data": {"list": "news", "name": null, "email": "baseline{{i}}@example.org", "locale": null, "status": "pending", "consent": {"at": "2026-12-02T05:00:00+00:00", "ip": "127.0.0.1", "source": null, "userAgent": "bench", "textVersion": "1"}, "confirmedAt": null, "unsubscribedAt": null}, "type": "subscription.created", "timestamp": "2026-12-02T05:00:00+00:00"}""";
        var id = $"msg_{i}";
        var timestamp = DateTimeOffset.UtcNow;
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(payload, Encoding.UTF8, "application/json") };
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", timestamp.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", webhook.Sign(id, timestamp, payload));
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
    }

    return $"{count / stopwatch.Elapsed.TotalSeconds:F0}";
}

static async Task ReceiveWebhooks(int port)
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
    var app = builder.Build();
    long received = 0;
    app.MapPost("/hooks", async (HttpRequest request) =>
    {
        await request.Body.CopyToAsync(Stream.Null);
        Interlocked.Increment(ref received);
        return Results.NoContent();
    });
    app.MapGet("/count", () => Interlocked.Read(ref received));
    await app.RunAsync();
}
