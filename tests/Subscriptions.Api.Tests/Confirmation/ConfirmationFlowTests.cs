using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Time.Testing;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Confirmation;

public class ConfirmationFlowTests(ApiFixture fixture) : ApiTest(fixture)
{
    async Task<Uri> SignUpAndGetLink(string email)
    {
        Assert.Equal(HttpStatusCode.Accepted,
            (await Client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true })).StatusCode);
        return ConfirmationMailTests.ConfirmationLink(Assert.Single(await Fixture.Mail.WaitForMailToAsync(email)));
    }

    async Task<string> Status(string email)
    {
        await using var connection = await Database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<string>(
            "SELECT sub.status FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id WHERE s.email = @email",
            new { email }) ?? "none";
    }

    async Task<long> Events(string type)
    {
        await using var connection = await Database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM subscription_events WHERE type = @type", new { type });
    }

    [Fact]
    public async Task Opening_the_link_shows_a_confirm_button_and_changes_nothing()
    {
        var link = await SignUpAndGetLink("scanner@example.org");

        for (var i = 0; i < 3; i++)
        {
            var page = await Client.GetAsync(link);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            var html = await page.Content.ReadAsStringAsync();
            Assert.Contains("<form method=\"post\">", html);
            Assert.Contains(">Confirm</button>", html);
        }

        Assert.Equal("pending", await Status("scanner@example.org"));
        Assert.Equal(0, await Events("confirmed"));
    }

    [Fact]
    public async Task Pressing_confirm_confirms_once_and_a_second_press_is_refused()
    {
        var link = await SignUpAndGetLink("reader@example.org");

        var confirmed = await Client.PostAsync(link, null);
        Assert.Equal(HttpStatusCode.SeeOther, confirmed.StatusCode);
        Assert.Equal("/signup/confirmed?list=news", confirmed.Headers.Location?.OriginalString);
        Assert.Equal("confirmed", await Status("reader@example.org"));
        Assert.Equal(1, await Events("confirmed"));
        var page = await Client.GetAsync(confirmed.Headers.Location);
        Assert.Contains("is confirmed", await page.Content.ReadAsStringAsync());

        var again = await Client.PostAsync(link, null);
        Assert.Equal(HttpStatusCode.Gone, again.StatusCode);
        Assert.Equal("text/html", again.Content.Headers.ContentType?.MediaType);
        Assert.Equal(1, await Events("confirmed"));
    }

    [Fact]
    public async Task A_script_asking_for_json_gets_json()
    {
        var link = await SignUpAndGetLink("script@example.org");

        using var request = new HttpRequestMessage(HttpMethod.Post, link);
        request.Headers.Accept.ParseAdd("application/json");
        var response = await Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("confirmed", body.GetProperty("status").GetString());
        Assert.Equal("news", body.GetProperty("list").GetString());
    }

    [Fact]
    public async Task The_list_confirmed_url_receives_the_reader()
    {
        await using (var connection = await Database.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("UPDATE lists SET confirmed_url = 'https://news.example/welcome' WHERE slug = 'news'");
        }

        var response = await Client.PostAsync(await SignUpAndGetLink("welcome@example.org"), null);

        Assert.Equal("https://news.example/welcome", response.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task An_expired_link_is_refused_with_a_page_that_offers_to_sign_up_again()
    {
        var link = await SignUpAndGetLink("late@example.org");
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var later = new SubscriptionsApp(Fixture.ConnectionString, Fixture.AppSettings(), clock);
        using var client = later.CreateHttpClient();
        var path = link.PathAndQuery;

        clock.Advance(TimeSpan.FromDays(7) + TimeSpan.FromMinutes(1));
        var page = await client.GetAsync(path);
        var confirm = await client.PostAsync(path, null);

        Assert.Equal(HttpStatusCode.Gone, page.StatusCode);
        Assert.Equal(HttpStatusCode.Gone, confirm.StatusCode);
        Assert.Contains("Sign up again", await confirm.Content.ReadAsStringAsync());
        Assert.Equal("pending", await Status("late@example.org"));
    }

    [Theory]
    [InlineData("/confirm/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("/confirm/not-a-token")]
    [InlineData("/confirm/..%2F..%2Fetc%2Fpasswd")]
    // 43 characters that are not the canonical base64url of 32 bytes: spare bits set, or not base64url at all
    [InlineData("/confirm/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [InlineData("/confirm/___________________________________________")]
    [InlineData("/confirm/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB")]
    [InlineData("/confirm/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+")]
    [InlineData("/confirm/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D%3D")]
    [InlineData("/confirm/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%25")]
    [InlineData("/confirm/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%20")]
    [InlineData("/confirm/%FF%FEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task An_unknown_link_gets_a_friendly_404_page(string path)
    {
        var page = await Client.GetAsync(path);
        var confirm = await Client.PostAsync(path, null);
        using var script = new HttpRequestMessage(HttpMethod.Post, path);
        script.Headers.Accept.ParseAdd("application/json");
        var scripted = await Client.SendAsync(script);

        Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, confirm.StatusCode);
        Assert.Contains("sign up again", await confirm.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, scripted.StatusCode);
        Assert.Equal("application/problem+json", scripted.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, await Scalar<long>("SELECT (SELECT count(*) FROM subscription_events) + (SELECT count(*) FROM tokens)"));
    }
}
