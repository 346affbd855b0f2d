using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Protection;

/// <summary>CORS, redirects, size and method limits, and the headers of hosted pages.</summary>
public partial class RequestBoundaryTests(ApiFixture fixture) : ApiTest(fixture)
{
    static HttpRequestMessage Preflight(string origin) => new(HttpMethod.Options, "/api/subscriptions")
    {
        Headers =
        {
            { "Origin", origin },
            { "Access-Control-Request-Method", "POST" },
            { "Access-Control-Request-Headers", "content-type" },
        },
    };

    [Fact]
    public async Task A_lists_origin_may_post_json_from_a_browser_and_others_get_no_grant()
    {
        await Execute("UPDATE lists SET allowed_origins = '{https://news.example}' WHERE slug = 'news'");
        await using var app = Fixture.StartApp(); // a fresh origin cache

        using var client = app.CreateHttpClient();
        var allowed = await client.SendAsync(Preflight("https://news.example"));
        var refused = await client.SendAsync(Preflight("https://evil.example"));

        Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);
        Assert.Equal("https://news.example", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("POST", allowed.Headers.GetValues("Access-Control-Allow-Methods").Single());
        Assert.False(allowed.Headers.Contains("Access-Control-Allow-Credentials"));
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));

        using var post = new HttpRequestMessage(HttpMethod.Post, "/api/subscriptions") { Content = JsonContent.Create(new { email = "cors@example.org", consent = true }) };
        post.Headers.Add("Origin", "https://news.example");
        var response = await client.SendAsync(post);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("https://news.example", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Fact]
    public async Task Globally_configured_origins_are_granted_for_every_list()
    {
        await using var app = Fixture.StartApp(("Cors:AllowedOrigins:0", "https://partner.example"));
        using var client = app.CreateHttpClient();

        var allowed = await client.SendAsync(Preflight("https://partner.example"));

        Assert.Equal("https://partner.example", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Theory]
    [InlineData("redirect", "https://evil.example/phish")]
    [InlineData("thank_you_url", "https://evil.example/phish")]
    [InlineData("thankYouUrl", "//evil.example")]
    [InlineData("next", "https://evil.example")]
    [InlineData("returnUrl", "javascript:alert(1)")]
    public async Task A_form_cannot_choose_where_it_is_redirected(string field, string target)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/subscriptions")
        {
            Content = new FormUrlEncodedContent([KeyValuePair.Create("email", "r@example.org"), KeyValuePair.Create("consent", "on"), KeyValuePair.Create(field, target)]),
        };
        request.Headers.Referrer = new Uri("https://evil.example/referer");

        var response = await Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal("/signup/thank-you?list=news", response.Headers.Location?.OriginalString);
    }

    [Theory]
    [InlineData(17 * 1024)]
    [InlineData(10 * 1024 * 1024)]
    public async Task A_body_over_16_KiB_gets_413_and_stores_nothing(int size)
    {
        var body = $$"""{"email":"big@example.org","consent":true,"name":"{{new string('n', size)}}"}""";

        var response = await Client.PostAsync("/api/subscriptions", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscribers"));
    }

    [Fact]
    public async Task A_body_without_content_length_is_cut_off_at_16_KiB_too()
    {
        var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes($$"""{"email":"big@example.org","consent":true,"name":"{{new string('n', 40_000)}}"}""")));
        content.Headers.ContentType = new("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/subscriptions") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        var response = await Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("PATCH")]
    public async Task Other_methods_get_405_problem_details(string method)
    {
        var response = await Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), "/api/subscriptions"));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Hosted_pages_send_a_strict_content_security_policy()
    {
        var response = await Client.GetAsync("/signup/thank-you?list=news");
        var html = await response.Content.ReadAsStringAsync();

        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("default-src 'none'", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.Contains("form-action 'self'", csp);
        var style = StyleElement().Match(html).Groups[1].Value;
        Assert.Contains($"style-src 'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(style)))}'", csp);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
    }

    [Fact]
    public async Task Frame_ancestors_come_from_configuration()
    {
        await using var app = Fixture.StartApp(("Pages:FrameAncestors", "https://news.example"));
        using var client = app.CreateHttpClient();

        var response = await client.GetAsync("/signup/thank-you");

        Assert.Contains("frame-ancestors https://news.example", response.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Fact]
    public async Task Api_answers_carry_nosniff_and_no_referrer()
    {
        var response = await Client.PostAsJsonAsync("/api/subscriptions", new { email = "h@example.org", consent = true });

        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
    }

    [GeneratedRegex("<style>(.*?)</style>", RegexOptions.Singleline)]
    private static partial Regex StyleElement();
}
