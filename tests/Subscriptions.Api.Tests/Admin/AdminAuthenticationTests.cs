using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Admin;

public class AdminAuthenticationTests(ApiFixture fixture) : ApiTest(fixture)
{
    public static TheoryData<string> AdminRoutes() => ["/api/admin/lists", "/api/admin/stats", "/api/admin/export", "/api/admin/lists/news"];

    [Theory]
    [MemberData(nameof(AdminRoutes))]
    public async Task The_admin_key_opens_every_admin_route(string route)
    {
        using var admin = AdminClient();

        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(route)).StatusCode);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("Bearer", "wrong-key-wrong-key-wrong")]
    [InlineData("Bearer", "")]
    [InlineData("Bearer", ApiFixture.AdminKey + "x")]
    [InlineData("Bearer", "test-admin-key-012345678")]
    [InlineData("Basic", ApiFixture.AdminKey)]
    [InlineData("Token", ApiFixture.AdminKey)]
    public async Task A_missing_or_wrong_key_gets_401_problem_with_a_bearer_challenge(string? scheme, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/stats");
        if (scheme is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", $"{scheme} {key}".Trim());
        }

        var response = await Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(401, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Any_of_several_keys_works_so_keys_can_be_rotated()
    {
        await using var app = Fixture.StartApp(("Admin:ApiKeys:0", "next-admin-key-0123456789"));
        using var client = app.CreateHttpClient();

        foreach (var key in new[] { ApiFixture.AdminKey, "next-admin-key-0123456789" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/stats");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(request)).StatusCode);
        }
    }

    [Fact]
    public async Task Without_a_configured_key_every_admin_call_is_refused()
    {
        await using var app = Fixture.StartApp(("Admin:ApiKey", null));
        using var client = app.CreateHttpClient();

        foreach (var key in new[] { "", "null", ApiFixture.AdminKey })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/lists");
            request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {key}");
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(request)).StatusCode);
        }
    }

    [Fact]
    public async Task Repeated_failures_from_one_client_are_throttled_even_with_the_right_key_then()
    {
        await using var app = Fixture.StartApp(("Admin:FailedAttemptsPerMinute", "3"));
        using var client = app.CreateHttpClient();

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/admin/stats")).StatusCode);
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/stats");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiFixture.AdminKey);
        var throttled = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
        Assert.NotNull(throttled.Headers.RetryAfter);
        Assert.Equal("application/problem+json", throttled.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Failures_are_counted_per_64_for_an_ipv6_client_behind_a_trusted_proxy()
    {
        await using var app = Fixture.StartApp(("Subscriptions:TrustedProxies:0", "127.0.0.1"), ("Admin:FailedAttemptsPerMinute", "2"));
        using var client = app.CreateHttpClient();

        async Task<HttpStatusCode> StatsFrom(string address, string? key = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/stats");
            request.Headers.Add("X-Forwarded-For", address);
            if (key is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }

            return (await client.SendAsync(request)).StatusCode;
        }

        // a guesser that takes a new address in its /64 for every attempt is still one client
        Assert.Equal(HttpStatusCode.Unauthorized, await StatsFrom("2001:db8:1:2::1"));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatsFrom("2001:db8:1:2:a:b:c:d", "wrong-key-wrong-key-wrong"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await StatsFrom("2001:db8:1:2:ffff::1"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await StatsFrom("2001:db8:1:2::2", ApiFixture.AdminKey));

        // the next /64 is another client
        Assert.Equal(HttpStatusCode.OK, await StatsFrom("2001:db8:1:3::1", ApiFixture.AdminKey));
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_short_admin_key_stops_the_process_at_start()
    {
        var (exitCode, _, stderr) = await ServiceProcess.RunAsync([], new()
        {
            ["ConnectionStrings__Subscriptions"] = "Host=127.0.0.1;Port=1;Database=none;Username=none",
            ["Admin__ApiKey"] = "secret",
        });

        Assert.Equal(1, exitCode);
        Assert.StartsWith("Configuration error: Admin__ApiKey", stderr);
    }
}
