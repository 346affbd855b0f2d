using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Webhooks;

/// <summary>The webhook admin API, and everything it must refuse: no request gets a 5xx, and nothing bad is stored.</summary>
public class WebhookAdministrationTests(ApiFixture fixture) : ApiTest(fixture)
{
    const string Receiver = "https://hooks.news.example/subscriptions";

    [Fact]
    public async Task An_endpoint_is_registered_listed_without_its_secret_and_removed()
    {
        using var admin = AdminClient();
        var created = await admin.PostAsJsonAsync("/api/admin/webhooks",
            new { url = Receiver, events = new[] { "subscription.confirmed" }, lists = new[] { "news" }, description = "CRM" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var registered = await created.Content.ReadFromJsonAsync<JsonElement>();
        var secret = registered.GetProperty("secret").GetString()!;
        Assert.Matches("^whsec_[A-Za-z0-9+/]{43}=$", secret);
        Assert.Equal($"/api/admin/webhooks/{registered.GetProperty("id").GetInt64()}", created.Headers.Location?.OriginalString);

        var listed = await admin.GetStringAsync("/api/admin/webhooks");
        Assert.DoesNotContain(secret["whsec_".Length..], listed, StringComparison.Ordinal);
        var endpoint = Assert.Single(JsonDocument.Parse(listed).RootElement.EnumerateArray());
        Assert.Equal(Receiver, endpoint.GetProperty("url").GetString());
        Assert.Equal("CRM", endpoint.GetProperty("description").GetString());
        Assert.Equal(["news"], endpoint.GetProperty("lists").EnumerateArray().Select(l => l.GetString()));

        var id = endpoint.GetProperty("id").GetInt64();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"/api/admin/webhooks/{id}/deliveries")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/webhooks/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"/api/admin/webhooks/{id}")).StatusCode);
        Assert.Equal("[]", await admin.GetStringAsync("/api/admin/webhooks"));
    }

    public static TheoryData<string, string> Refused() => new()
    {
        { "plain http elsewhere than loopback", """{"url":"http://hooks.news.example/x","events":["subscription.created"]}""" },
        { "a private address", """{"url":"https://10.1.2.3/x","events":["subscription.created"]}""" },
        { "link-local (cloud metadata)", """{"url":"https://169.254.169.254/latest","events":["subscription.created"]}""" },
        { "unique-local IPv6", """{"url":"https://[fd00::1]/x","events":["subscription.created"]}""" },
        { "the unspecified address", """{"url":"https://0.0.0.0/x","events":["subscription.created"]}""" },
        { "credentials in the URL", """{"url":"https://user:pw@hooks.news.example/x","events":["subscription.created"]}""" },
        { "not a URL", """{"url":"hooks","events":["subscription.created"]}""" },
        { "another scheme", """{"url":"ftp://hooks.news.example/x","events":["subscription.created"]}""" },
        { "javascript", """{"url":"javascript:alert(1)","events":["subscription.created"]}""" },
        { "a NUL in a loopback URL", """{"url":"http://127.0.0.1:9/a\u0000b","events":["subscription.created"]}""" },
        { "a line break in a loopback URL", """{"url":"http://127.0.0.1:9/a\r\nb","events":["subscription.created"]}""" },
        { "a huge URL", $$"""{"url":"https://hooks.news.example/{{new string('a', 3000)}}","events":["subscription.created"]}""" },
        { "no URL", """{"events":["subscription.created"]}""" },
        { "no events", $$"""{"url":"{{Receiver}}"}""" },
        { "empty events", $$"""{"url":"{{Receiver}}","events":[]}""" },
        { "an unknown event", $$"""{"url":"{{Receiver}}","events":["subscription.exploded"]}""" },
        { "a null event", $$"""{"url":"{{Receiver}}","events":[null]}""" },
        { "an unknown list", $$"""{"url":"{{Receiver}}","events":["subscription.created"],"lists":["nope"]}""" },
        { "a list that is no slug", $$"""{"url":"{{Receiver}}","events":["subscription.created"],"lists":["../../etc"]}""" },
        { "a null list", $$"""{"url":"{{Receiver}}","events":["subscription.created"],"lists":[null]}""" },
        { "a description with control characters", $$"""{"url":"{{Receiver}}","events":["subscription.created"],"description":"a\u0000b"}""" },
        { "a huge description", $$"""{"url":"{{Receiver}}","events":["subscription.created"],"description":"{{new string('d', 600)}}"}""" },
        { "events of the wrong type", $$"""{"url":"{{Receiver}}","events":"subscription.created"}""" },
        { "a URL of the wrong type", """{"url":42,"events":["subscription.created"]}""" },
        { "truncated JSON", $$"""{"url":"{{Receiver}}","events":["subscr""" },
        { "not JSON", "url=https://x" },
        { "a JSON array", "[]" },
        { "null", "null" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_bad_registration_is_refused_with_a_problem_and_stores_nothing(string why, string body)
    {
        using var admin = AdminClient();
        var response = await admin.PostAsync("/api/admin/webhooks", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{why}: {(int)response.StatusCode}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM webhook_endpoints"));
    }

    [Fact]
    public async Task Private_networks_are_allowed_only_when_the_operator_says_so()
    {
        await using var app = Fixture.StartApp(("Webhooks:AllowPrivateNetworks", "true"));
        using var admin = app.CreateHttpClient();
        admin.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);

        var response = await admin.PostAsJsonAsync("/api/admin/webhooks", new { url = "https://10.1.2.3/hooks", events = new[] { "subscription.created" } });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        await Execute("DELETE FROM webhook_endpoints"); // nothing is ever sent there: no signup follows
    }

    public static TheoryData<string, string> Routes() => new()
    {
        { "GET", "/api/admin/webhooks" },
        { "POST", "/api/admin/webhooks" },
        { "DELETE", "/api/admin/webhooks/1" },
        { "GET", "/api/admin/webhooks/1/deliveries" },
        { "POST", "/api/admin/webhooks/1/deliveries/1/retry" },
    };

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task Every_webhook_route_wants_the_admin_key(string method, string route)
    {
        foreach (var key in new[] { null, "wrong-key-wrong-key-wrong-key" })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), route)
            {
                Content = new StringContent($$"""{"url":"{{Receiver}}","events":["subscription.created"]}""", Encoding.UTF8, "application/json"),
            };
            if (key is not null)
            {
                request.Headers.Authorization = new("Bearer", key);
            }

            Assert.Equal(HttpStatusCode.Unauthorized, (await Client.SendAsync(request)).StatusCode);
        }

        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM webhook_endpoints"));
    }

    [Theory]
    [InlineData("GET", "/api/admin/webhooks/999/deliveries", HttpStatusCode.NotFound)]
    [InlineData("DELETE", "/api/admin/webhooks/999", HttpStatusCode.NotFound)]
    [InlineData("POST", "/api/admin/webhooks/999/deliveries/1/retry", HttpStatusCode.NotFound)]
    [InlineData("DELETE", "/api/admin/webhooks/abc", HttpStatusCode.NotFound)]
    [InlineData("DELETE", "/api/admin/webhooks/99999999999999999999999", HttpStatusCode.NotFound)]
    [InlineData("DELETE", "/api/admin/webhooks/-1", HttpStatusCode.NotFound)]
    [InlineData("GET", "/api/admin/webhooks/1%00/deliveries", HttpStatusCode.BadRequest)] // Kestrel refuses a NUL in a path
    [InlineData("GET", "/api/admin/webhooks/..%2F..%2Fstats/deliveries", HttpStatusCode.NotFound)]
    [InlineData("GET", "/api/admin/webhooks/1/deliveries?limit=0", HttpStatusCode.BadRequest)]
    [InlineData("GET", "/api/admin/webhooks/1/deliveries?limit=100000", HttpStatusCode.BadRequest)]
    [InlineData("GET", "/api/admin/webhooks/1/deliveries?limit=abc", HttpStatusCode.BadRequest)]
    [InlineData("GET", "/api/admin/webhooks/1/deliveries?limit=99999999999999999999", HttpStatusCode.BadRequest)]
    [InlineData("PUT", "/api/admin/webhooks/1", HttpStatusCode.MethodNotAllowed)]
    [InlineData("PATCH", "/api/admin/webhooks", HttpStatusCode.MethodNotAllowed)]
    public async Task Hostile_paths_and_queries_get_a_4xx(string method, string route, HttpStatusCode expected)
    {
        using var admin = AdminClient();
        var id = await Register(admin);
        using var request = new HttpRequestMessage(new HttpMethod(method), route.Replace("/1/", $"/{id}/", StringComparison.Ordinal));

        Assert.Equal(expected, (await admin.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task Only_a_dead_delivery_can_be_retried_and_only_on_its_own_endpoint()
    {
        using var admin = AdminClient();
        var id = await Register(admin);
        var other = await Register(admin);
        await Execute("UPDATE webhook_endpoints SET paused_until = now() + interval '1 hour'"); // nothing is sent to it
        await Client.PostAsJsonAsync("/api/subscriptions", new { email = "retry@example.org", consent = true });
        var delivery = await Scalar<long>($"SELECT id FROM outbox WHERE kind = 'webhook' AND webhook_endpoint_id = {id}");

        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostAsync($"/api/admin/webhooks/{id}/deliveries/{delivery}/retry", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsync($"/api/admin/webhooks/{other}/deliveries/{delivery}/retry", null)).StatusCode);

        await Execute($"UPDATE outbox SET dead_at = now() WHERE id = {delivery}");
        await Execute($"UPDATE webhook_endpoints SET disabled_at = now() WHERE id = {id}");
        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostAsync($"/api/admin/webhooks/{id}/deliveries/{delivery}/retry", null)).StatusCode);
        Assert.True(await Scalar<bool>($"SELECT dead_at IS NOT NULL FROM outbox WHERE id = {delivery}"));
    }

    async Task<long> Register(HttpClient admin)
    {
        var response = await admin.PostAsJsonAsync("/api/admin/webhooks", new { url = Receiver, events = new[] { "subscription.created" } });
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }
}
