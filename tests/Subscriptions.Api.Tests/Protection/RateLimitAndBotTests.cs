using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Protection;

public class RateLimitAndBotTests(ApiFixture fixture) : ApiTest(fixture)
{
    Task<long> StoredRows() => Scalar<long>("SELECT (SELECT count(*) FROM subscribers) + (SELECT count(*) FROM subscription_events)");

    [Fact]
    public async Task Signups_past_the_burst_get_429_with_retry_after_and_store_nothing()
    {
        await using var app = Fixture.StartApp(("RateLimits:Signup:Burst", "3"), ("RateLimits:Signup:PerMinute", "1"));
        using var client = app.CreateHttpClient();

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/subscriptions", new { email = $"r{i}@example.org", consent = true })).StatusCode);
        }

        var json = await client.PostAsJsonAsync("/api/subscriptions", new { email = "r3@example.org", consent = true });
        var form = await client.PostAsync("/api/subscriptions", new FormUrlEncodedContent([KeyValuePair.Create("email", "r4@example.org"), KeyValuePair.Create("consent", "on")]));

        foreach (var response in new[] { json, form })
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal(3, await Scalar<long>("SELECT count(*) FROM subscribers"));
    }

    [Fact]
    public async Task An_ipv6_client_is_limited_per_64_behind_a_trusted_proxy()
    {
        await using var app = Fixture.StartApp(("Subscriptions:TrustedProxies:0", "127.0.0.1"),
            ("RateLimits:Signup:Burst", "2"), ("RateLimits:Signup:PerMinute", "1"));
        using var client = app.CreateHttpClient();

        async Task<HttpStatusCode> SignUpFrom(string address, string email)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/subscriptions") { Content = JsonContent.Create(new { email, consent = true }) };
            request.Headers.Add("X-Forwarded-For", address);
            return (await client.SendAsync(request)).StatusCode;
        }

        // a client that takes a new address in its /64 for every request still has one bucket
        Assert.Equal(HttpStatusCode.Accepted, await SignUpFrom("2001:db8:1:2::1", "v1@example.org"));
        Assert.Equal(HttpStatusCode.Accepted, await SignUpFrom("2001:db8:1:2:a:b:c:d", "v2@example.org"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await SignUpFrom("2001:db8:1:2:ffff:ffff:ffff:ffff", "v3@example.org"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await SignUpFrom("[2001:db8:1:2::99]:4711", "v4@example.org"));

        // the next /64 is another client, and so is each IPv4 address
        Assert.Equal(HttpStatusCode.Accepted, await SignUpFrom("2001:db8:1:3::1", "w1@example.org"));
        Assert.Equal(HttpStatusCode.Accepted, await SignUpFrom("198.51.100.1", "x1@example.org"));
        Assert.Equal(HttpStatusCode.Accepted, await SignUpFrom("198.51.100.1", "x2@example.org"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await SignUpFrom("198.51.100.1", "x3@example.org"));
        Assert.Equal(HttpStatusCode.Accepted, await SignUpFrom("198.51.100.2", "y1@example.org"));

        // the consent evidence keeps the full address, not the /64
        Assert.Equal(6, await Scalar<long>("SELECT count(*) FROM subscribers"));
        Assert.Equal("2001:db8:1:2:a:b:c:d", await Scalar<string>("SELECT host(consent_ip) FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id WHERE s.email = 'v2@example.org'"));
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Confirmation_and_unsubscribe_links_are_rate_limited_too()
    {
        await using var app = Fixture.StartApp(("RateLimits:Links:Burst", "2"), ("RateLimits:Links:PerMinute", "1"));
        using var client = app.CreateHttpClient();

        var statuses = new List<HttpStatusCode>();
        foreach (var path in new[] { "/confirm/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "/unsubscribe/AAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAA", "/confirm/x", "/unsubscribe/y" })
        {
            statuses.Add((await client.PostAsync(path, null)).StatusCode);
        }

        Assert.Equal([HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
    }

    [Fact]
    public async Task A_filled_honeypot_gets_the_usual_answer_in_json_and_form_and_nothing_is_stored()
    {
        using var signups = new MetricCollector<long>(Fixture.App.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            SubscriptionsMetrics.MeterName, "subscriptions.signups");
        var real = await Client.PostAsJsonAsync("/api/subscriptions", new { email = "person@example.org", consent = true });
        var realForm = await Client.PostAsync("/api/subscriptions", new FormUrlEncodedContent([KeyValuePair.Create("email", "person2@example.org"), KeyValuePair.Create("consent", "on")]));
        await Execute("TRUNCATE subscribers, subscription_events, outbox CASCADE");

        var bot = await Client.PostAsJsonAsync("/api/subscriptions", new { email = "victim@example.org", consent = true, website = "http://spam.example" });
        var botForm = await Client.PostAsync("/api/subscriptions", new FormUrlEncodedContent(
            [KeyValuePair.Create("email", "victim2@example.org"), KeyValuePair.Create("consent", "on"), KeyValuePair.Create("website", "x")]));

        Assert.Equal(real.StatusCode, bot.StatusCode);
        Assert.Equal(await real.Content.ReadAsStringAsync(), await bot.Content.ReadAsStringAsync());
        Assert.Equal(realForm.StatusCode, botForm.StatusCode);
        Assert.Equal(realForm.Headers.Location, botForm.Headers.Location);
        Assert.Equal(0, await StoredRows());
        Assert.Equal(2, signups.GetMeasurementSnapshot().Count(m => (string?)m.Tags["outcome"] == "honeypot"));
    }

    [Fact]
    public async Task A_bot_with_invalid_input_in_the_honeypot_also_learns_nothing()
    {
        var bot = await Client.PostAsJsonAsync("/api/subscriptions", new { email = "not an address", website = "x" });

        Assert.Equal(HttpStatusCode.Accepted, bot.StatusCode);
        Assert.Equal(0, await StoredRows());
    }

    [Fact]
    public async Task The_captcha_is_checked_for_json_and_form_alike_against_the_provider()
    {
        await using var provider = await FakeSiteVerify.StartAsync();
        await using var app = Fixture.StartApp(("Captcha:Provider", "Turnstile"), ("Captcha:Secret", "the-secret"), ("Captcha:VerifyUrl", provider.Url));
        using var client = app.CreateHttpClient();

        var human = await client.PostAsJsonAsync("/api/subscriptions", new { email = "human@example.org", consent = true, captcha = FakeSiteVerify.HumanToken });
        var humanForm = await client.PostAsync("/api/subscriptions", new FormUrlEncodedContent([
            KeyValuePair.Create("email", "human2@example.org"), KeyValuePair.Create("consent", "on"),
            KeyValuePair.Create("cf-turnstile-response", FakeSiteVerify.HumanToken)]));
        var robot = await client.PostAsJsonAsync("/api/subscriptions", new { email = "robot@example.org", consent = true, captcha = "guess" });
        var missing = await client.PostAsync("/api/subscriptions", new FormUrlEncodedContent([
            KeyValuePair.Create("email", "robot2@example.org"), KeyValuePair.Create("consent", "on")]));

        Assert.Equal(HttpStatusCode.Accepted, human.StatusCode);
        Assert.Equal(HttpStatusCode.SeeOther, humanForm.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, robot.StatusCode);
        Assert.True((await robot.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("captcha", out _));
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Equal(2, await Scalar<long>("SELECT count(*) FROM subscribers"));
        Assert.All(provider.Requests, r => Assert.Equal("the-secret", r["secret"]));
        Assert.Contains(provider.Requests, r => r["remoteip"] == "127.0.0.1");
    }

    [Fact]
    public async Task An_unreachable_captcha_provider_fails_closed()
    {
        await using var app = Fixture.StartApp(("Captcha:Provider", "HCaptcha"), ("Captcha:Secret", "the-secret"), ("Captcha:VerifyUrl", "http://127.0.0.1:9/siteverify"));
        using var client = app.CreateHttpClient();

        var response = await client.PostAsJsonAsync("/api/subscriptions", new { email = "human@example.org", consent = true, captcha = FakeSiteVerify.HumanToken });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(0, await StoredRows());
    }

    /// <summary>A stand-in for Turnstile's and hCaptcha's siteverify on 127.0.0.1 (the real ones cannot be reached here).</summary>
    sealed class FakeSiteVerify : IAsyncDisposable
    {
        public const string HumanToken = "token-the-widget-gave-a-person";
        readonly WebApplication _app;

        FakeSiteVerify(WebApplication app) => _app = app;

        public List<Dictionary<string, string>> Requests { get; } = [];

        public string Url => _app.Urls.First() + "/siteverify";

        public static async Task<FakeSiteVerify> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var fake = new FakeSiteVerify(app);
            app.MapPost("/siteverify", async (HttpRequest request) =>
            {
                var form = await request.ReadFormAsync();
                lock (fake.Requests)
                {
                    fake.Requests.Add(form.ToDictionary(f => f.Key, f => f.Value.ToString()));
                }

                return Results.Json(new { success = form["response"] == HumanToken });
            });
            await app.StartAsync();
            return fake;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
