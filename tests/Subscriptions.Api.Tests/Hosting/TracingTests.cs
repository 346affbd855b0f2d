using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;
using Subscriptions.Api.Tests.Webhooks;
using Xunit.Abstractions;

namespace Subscriptions.Api.Tests.Hosting;

/// <summary>
/// Traces as an operator's collector receives them: over OTLP/HTTP into a real receiver that
/// decodes them with the official protobuf definitions. Each test has its own database and service.
/// </summary>
public sealed class TracingTests(ApiFixture fixture, ReceiverFixture receivers, ITestOutputHelper output)
    : OwnDatabaseTest(fixture), IClassFixture<ReceiverFixture>
{
    const int Server = 2, Client = 3, Consumer = 5;

    static HttpClient Admin(SubscriptionsApp app)
    {
        var client = app.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);
        return client;
    }

    /// <summary>
    /// A signup sent over a plain socket, its headers exactly as given: HttpClient's tracing (which
    /// listens process-wide, so in the tests' own client too) would replace a traceparent with its own.
    /// </summary>
    static async Task<int> SignUpTraced(SubscriptionsApp app, string email, params (string Name, string Value)[] headers)
    {
        var body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { email, consent = true }));
        var head = new StringBuilder($"POST /api/subscriptions HTTP/1.1\r\nHost: {app.BaseAddress.Authority}\r\nContent-Type: application/json\r\n"
            + $"Content-Length: {body.Length}\r\nConnection: close\r\n");
        foreach (var (name, value) in headers)
        {
            head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(app.BaseAddress.Host, app.BaseAddress.Port);
        await using var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(head.Append("\r\n").ToString()));
        await stream.WriteAsync(body);
        using var reader = new StreamReader(stream, Encoding.Latin1);
        var status = await reader.ReadLineAsync() ?? "";
        return int.Parse(status.Split(' ')[1], CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task A_signup_its_mail_its_webhook_and_its_confirmation_are_linked_in_the_traces_and_say_nothing_personal()
    {
        await using var otlp = await OtlpReceiver.StartAsync();
        await using var app = StartApp(null, otlp.Settings());
        using var admin = Admin(app);
        using var client = app.CreateHttpClient();
        await WebhookAdmin.RegisterAsync(admin, receivers.Receiver, "traced", events: ["subscription.created", "subscription.confirmed"]);
        var email = $"traced-{Guid.NewGuid():N}@example.org";
        var traceId = ActivityTraceId.CreateRandom().ToHexString();

        // the caller's own trace (a proxy or a site's backend) continues into the service
        Assert.Equal(202, await SignUpTraced(app, email, ("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01")));
        var link = ConfirmationMailTests.ConfirmationLink(Assert.Single(await Fixture.Mail.WaitForMailToAsync(email)));
        await receivers.Receiver.WaitAsync("traced", r => r.Count(d => d.Answered == 200) == 1);
        var token = link.Segments[^1];
        Assert.True((await client.PostAsync(link.PathAndQuery, null)).StatusCode is HttpStatusCode.SeeOther or HttpStatusCode.OK);
        await receivers.Receiver.WaitAsync("traced", r => r.Count(d => d.Answered == 200) == 2);

        var spans = await otlp.WaitAsync(all =>
            all.Any(s => s.TraceId == traceId && s.Name == "smtp send")
            && all.Any(s => s.TraceId == traceId && s.Scope == "System.Net.Http")
            && all.Any(s => s.Kind == Server && s.Links.Any(l => l.TraceId == traceId)
                            && all.Any(w => w.TraceId == s.TraceId && w.Name == "outbox deliver webhook")),
            "signup, its mail and webhook, and the confirmation with its webhook");

        // the signup's request: its span, with its statements under it
        var signup = Assert.Single(spans, s => s.TraceId == traceId && s.Kind == Server);
        output.WriteLine("signup span attributes: " + string.Join(", ", signup.Attributes.Select(a => $"{a.Key}={a.Value}")));
        Assert.Equal("subscriptions", signup.Service);
        Assert.Equal("/api/subscriptions", signup["http.route"]);
        Assert.Contains(spans, s => s.TraceId == traceId && s.Scope == "Npgsql" && s.ParentSpanId == signup.SpanId);

        // the confirmation mail's delivery continues the signup's trace, and the SMTP exchange is under it
        var mail = Assert.Single(spans, s => s.TraceId == traceId && s.Name == "outbox deliver confirmation");
        Assert.Equal((Consumer, signup.SpanId), (mail.Kind, mail.ParentSpanId));
        Assert.Equal(("confirmation", "1", "sent"), (mail["subscriptions.outbox.kind"], mail["subscriptions.outbox.attempt"], mail["subscriptions.outbox.outcome"]));
        Assert.NotNull(mail["subscriptions.outbox.id"]);
        var smtp = Assert.Single(spans, s => s.TraceId == traceId && s.Name == "smtp send");
        Assert.Equal((Client, mail.SpanId), (smtp.Kind, smtp.ParentSpanId));

        // so does the webhook event the ledger's trigger wrote, and its HTTP request
        var created = Assert.Single(spans, s => s.TraceId == traceId && s.Name == "outbox deliver webhook");
        Assert.Equal(signup.SpanId, created.ParentSpanId);
        var post = Assert.Single(spans, s => s.TraceId == traceId && s.Scope == "System.Net.Http");
        Assert.Equal((Client, created.SpanId), (post.Kind, post.ParentSpanId));
        Assert.Equal(new Uri(receivers.Receiver.Url("traced")).GetLeftPart(UriPartial.Authority) + "/", post["url.full"]);

        // the click, days later in life: a trace of its own, linked to the signup's; its webhook event in it
        var confirm = Assert.Single(spans, s => s.Kind == Server && s.Links.Any(l => l.TraceId == traceId));
        Assert.Equal(new OtlpReceiver.Link(traceId, signup.SpanId), Assert.Single(confirm.Links));
        Assert.NotEqual(traceId, confirm.TraceId);
        Assert.Equal("/confirm/{token}", confirm["url.path"]);
        var confirmed = Assert.Single(spans, s => s.TraceId == confirm.TraceId && s.Name == "outbox deliver webhook");
        Assert.Equal(confirm.SpanId, confirmed.ParentSpanId);

        // nothing personal or secret in any span: not the address, not the link's token
        var said = spans.SelectMany(s => s.Attributes.Values.Append(s.Name)
            .Concat(s.Events.SelectMany(e => e.Attributes.Values.Append(e.Name)))).OfType<string>().ToList();
        Assert.DoesNotContain(said, v => v.Contains(email.Split('@')[0], StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(said, v => v.Contains(token, StringComparison.Ordinal));
        Assert.DoesNotContain(said, v => v.Contains("hooks/traced", StringComparison.Ordinal));
        Assert.DoesNotContain(spans.Where(s => s.Kind == Server).SelectMany(s => s.Attributes.Keys),
            key => key is "client.address" or "network.peer.address" or "user_agent.original");

        // the metrics go the same way (Prometheus's /metrics stays as it is)
        await Eventually.TrueAsync(async () => (await otlp.MetricNamesAsync()).Contains("subscriptions.signups"), TimeSpan.FromSeconds(20), "metrics over OTLP");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/metrics")).StatusCode);
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_change_in_the_preference_centre_and_the_webhook_events_it_writes_are_one_trace()
    {
        await using var otlp = await OtlpReceiver.StartAsync();
        await using var app = StartApp(null, otlp.Settings());
        using var admin = Admin(app);
        using var client = app.CreateHttpClient();
        await WebhookAdmin.RegisterAsync(admin, receivers.Receiver, "traced-manage", events: ["subscription.unsubscribed", "subscriber.updated"]);
        await SignUp(client, [$"manage-{Guid.NewGuid():N}@example.org"]);
        var manage = new Uri(JsonDocument.Parse(await admin.GetStringAsync("/api/admin/export?format=ndjson")).RootElement.GetProperty("manage_url").GetString()!);

        // one request: no list kept (the ledger trigger's subscription.unsubscribed) and another language (subscriber.updated, written by the statement)
        var saved = await client.PostAsync(manage.PathAndQuery, new FormUrlEncodedContent([new("action", "save"), new("language", "de")]));
        Assert.Equal(HttpStatusCode.SeeOther, saved.StatusCode);
        await receivers.Receiver.WaitAsync("traced-manage", r => r.Count(d => d.Answered == 200) == 2);

        var spans = await otlp.WaitAsync(all => all.Count(s => s.Name == "outbox deliver webhook") == 2
                                                && all.Any(s => s.Kind == Server && s["url.path"] == "/manage/{token}"), "the request and both webhook deliveries");
        var request = Assert.Single(spans, s => s.Kind == Server && s["url.path"] == "/manage/{token}");
        Assert.All(spans.Where(s => s.Name == "outbox deliver webhook"), delivery =>
            Assert.Equal((request.TraceId, request.SpanId), (delivery.TraceId, delivery.ParentSpanId)));
        app.AssertNoErrorsLogged();
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331")]
    [InlineData("00-00000000000000000000000000000000-0000000000000000-01")]
    [InlineData("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
    [InlineData("00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01")]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'); DROP TABLE outbox; --")]
    [InlineData("00-\u00e9\u00e9f7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
    public async Task A_malformed_traceparent_breaks_nothing_and_reaches_no_row(string traceparent)
    {
        await using var otlp = await OtlpReceiver.StartAsync();
        await using var app = StartApp(null, otlp.Settings());
        using var client = app.CreateHttpClient();
        var email = $"malformed-{Guid.NewGuid():N}@example.org";

        var status = await SignUpTraced(app, email, ("traceparent", traceparent), ("tracestate", "k=,=,,x=\"\""));
        var hugeStatus = await SignUpTraced(app, email, ("traceparent", "00-" + new string('a', 8000) + "-01"),
            ("tracestate", string.Join(',', Enumerable.Range(0, 500).Select(i => $"k{i}=v{i}"))));

        // Kestrel itself refuses a header that is not ASCII (400); everything else is an ordinary signup
        Assert.True(status is 202 || (status == 400 && !Ascii.IsValid(traceparent)), $"{status}");
        Assert.True(hugeStatus is 202 or 431, $"{hugeStatus}");
        await WaitUntil("SELECT count(*) = 1 FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(20));
        // the row carries the service's own well-formed context (the header was not taken), never the header's text
        var carried = await Scalar<string>("SELECT traceparent FROM outbox");
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", carried);
        Assert.NotEqual(traceparent, carried);
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task An_OTLP_endpoint_that_never_answers_neither_slows_nor_fails_signups()
    {
        // accepts connections and never answers: an exporter in the request's path would wait out its timeout
        using var blackHole = new TcpListener(IPAddress.Loopback, 0);
        blackHole.Start();
        var accepted = new List<Socket>();
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                accepted.Add(await blackHole.AcceptSocketAsync(stop.Token));
            }
        });
        await using var app = StartApp(null,
            ("OTEL_EXPORTER_OTLP_ENDPOINT", $"http://127.0.0.1:{((IPEndPoint)blackHole.LocalEndpoint).Port}"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"), ("OTEL_BSP_SCHEDULE_DELAY", "50"), ("OTEL_METRIC_EXPORT_INTERVAL", "100"));
        using var client = app.CreateHttpClient();

        var slowest = TimeSpan.Zero;
        foreach (var email in Addresses(40, $"blackhole-{Guid.NewGuid():N}-"))
        {
            var started = Stopwatch.GetTimestamp();
            Assert.Equal(202, await SignUpTraced(app, email));
            slowest = TimeSpan.FromTicks(Math.Max(slowest.Ticks, Stopwatch.GetElapsedTime(started).Ticks));
        }

        await WaitUntil("SELECT count(*) = 40 FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(30));
        output.WriteLine($"slowest signup with the exporter stuck: {slowest.TotalMilliseconds:F0} ms");
        Assert.True(slowest < TimeSpan.FromSeconds(3), $"a signup took {slowest}: the exporter's 10 s timeout was in its way");
        Assert.NotEmpty(accepted); // the exporter did try
        await stop.CancelAsync();
        await Task.WhenAny(accepting, Task.Delay(1000));
        foreach (var socket in accepted)
        {
            socket.Dispose();
        }

        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Without_an_OTLP_endpoint_nothing_is_traced_and_the_rows_carry_no_context()
    {
        await using var app = StartApp();
        using var client = app.CreateHttpClient();
        var email = $"untraced-{Guid.NewGuid():N}@example.org";

        Assert.Equal(202, await SignUpTraced(app, email, ("traceparent", $"00-{ActivityTraceId.CreateRandom().ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01")));

        await WaitUntil("SELECT count(*) = 1 FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(20));
        Assert.True(await Scalar<bool>("SELECT traceparent IS NULL FROM outbox"));
    }
}
