using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Pages;

/// <summary>
/// Browsers get pages, scripts get problems: a request that prefers HTML gets a hosted page in its
/// Accept-Language language with the status it would have had; one that asks for JSON, or for
/// nothing in particular, gets problem details.
/// </summary>
public class ErrorPageTests(ApiFixture fixture) : ApiTest(fixture)
{
    const string Browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

    /// <summary>What each kind of refusal is, as a request that a browser (or a script) can make.</summary>
    static HttpRequestMessage Refused(string kind) => kind switch
    {
        "404" => new HttpRequestMessage(HttpMethod.Get, "/no/such/page"),
        "404 embed" => new HttpRequestMessage(HttpMethod.Get, "/embed/form?list=no-such-list"),
        "405" => new HttpRequestMessage(HttpMethod.Put, "/api/subscriptions"),
        "413" => new HttpRequestMessage(HttpMethod.Post, "/api/subscriptions")
        {
            Content = new FormUrlEncodedContent([new("email", "big@example.org"), new("consent", "on"), new("name", new string('n', 20_000))]),
        },
        "415" => new HttpRequestMessage(HttpMethod.Post, "/api/subscriptions")
        {
            Content = new StringContent("email=a%40example.org&consent=on", Encoding.UTF8, "text/plain"),
        },
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    static HttpRequestMessage Asking(HttpRequestMessage request, string? accept, string? acceptLanguage = null)
    {
        if (accept is not null)
        {
            request.Headers.Accept.ParseAdd(accept);
        }

        if (acceptLanguage is not null)
        {
            request.Headers.AcceptLanguage.ParseAdd(acceptLanguage);
        }

        return request;
    }

    static async Task AssertPage(HttpResponseMessage response, HttpStatusCode status, string lang, string heading)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains($"<html lang=\"{lang}\">", html);
        Assert.Contains($"<h1>{heading}</h1>", WebUtility.HtmlDecode(html));
        Assert.Contains("default-src 'none'", response.Headers.GetValues("Content-Security-Policy").Single());
    }

    static async Task<JsonElement> AssertProblem(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        return problem;
    }

    [Theory]
    [InlineData("404", HttpStatusCode.NotFound, "de-DE,de;q=0.9", "de", "Seite nicht gefunden")]
    [InlineData("404 embed", HttpStatusCode.NotFound, "it", "it", "Pagina non trovata")]
    [InlineData("405", HttpStatusCode.MethodNotAllowed, "es-ES,es;q=0.9", "es", "Esto no es posible aquí")]
    [InlineData("413", HttpStatusCode.RequestEntityTooLarge, "fr", "fr", "Envoi trop volumineux")]
    [InlineData("415", HttpStatusCode.UnsupportedMediaType, "pl", "pl", "Nie udało się odczytać formularza")]
    [InlineData("415", HttpStatusCode.UnsupportedMediaType, "ja", "en", "We could not read the form")]
    public async Task A_browser_gets_a_page_with_the_same_status_in_its_language(string kind, HttpStatusCode status, string acceptLanguage, string lang, string heading)
    {
        await AssertPage(await Client.SendAsync(Asking(Refused(kind), Browser, acceptLanguage)), status, lang, heading);
    }

    [Theory]
    [InlineData("404", HttpStatusCode.NotFound)]
    [InlineData("404 embed", HttpStatusCode.NotFound)]
    [InlineData("405", HttpStatusCode.MethodNotAllowed)]
    [InlineData("413", HttpStatusCode.RequestEntityTooLarge)]
    [InlineData("415", HttpStatusCode.UnsupportedMediaType)]
    public async Task A_script_asking_for_json_or_for_nothing_gets_problem_details(string kind, HttpStatusCode status)
    {
        await AssertProblem(await Client.SendAsync(Asking(Refused(kind), "application/json", "de")), status);
        await AssertProblem(await Client.SendAsync(Asking(Refused(kind), null, "de")), status);
        // HTML is offered but JSON is preferred: still a script
        await AssertProblem(await Client.SendAsync(Asking(Refused(kind), "application/json, text/html;q=0.5", "de")), status);
    }

    [Fact]
    public async Task A_rate_limited_browser_gets_a_429_page_with_retry_after_and_a_script_problem_details()
    {
        await using var app = Fixture.StartApp(("RateLimits:Signup:Burst", "1"), ("RateLimits:Signup:PerMinute", "1"));
        using var client = app.CreateHttpClient();
        HttpRequestMessage Form(string? accept) => Asking(new HttpRequestMessage(HttpMethod.Post, "/api/subscriptions")
        {
            Content = new FormUrlEncodedContent([new("email", "limited@example.org"), new("consent", "on")]),
        }, accept, "nl-BE,nl;q=0.9");

        Assert.Equal(HttpStatusCode.SeeOther, (await client.SendAsync(Form(Browser))).StatusCode);
        var page = await client.SendAsync(Form(Browser));
        var problem = await client.SendAsync(Form("application/json"));

        await AssertPage(page, HttpStatusCode.TooManyRequests, "nl", "Te veel pogingen");
        Assert.True(page.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        await AssertProblem(problem, HttpStatusCode.TooManyRequests);
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_browsers_refused_form_lists_its_errors_in_the_readers_language_and_a_script_gets_them_as_json()
    {
        HttpRequestMessage Form(string accept) => Asking(new HttpRequestMessage(HttpMethod.Post, "/api/subscriptions")
        {
            Content = new FormUrlEncodedContent([new("email", "<b>not</b>"), new("name", "<script>alert(1)</script>")]),
        }, accept, "de");

        var page = await Client.SendAsync(Form(Browser));
        var json = await Client.SendAsync(Form("application/json"));

        await AssertPage(page, HttpStatusCode.BadRequest, "de", "Bitte prüfen Sie das Formular");
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<ul class=\"errors\">", html);
        Assert.Contains("Bitte geben Sie eine gültige E-Mail-Adresse ein", WebUtility.HtmlDecode(html));
        Assert.DoesNotContain("<script>", html);
        Assert.DoesNotContain("<b>", html);
        var problem = await AssertProblem(json, HttpStatusCode.BadRequest);
        Assert.Equal("Bitte prüfen Sie das Formular", problem.GetProperty("title").GetString());
        Assert.True(problem.GetProperty("errors").TryGetProperty("email", out _));
    }

    [Fact]
    public async Task A_spent_confirmation_link_is_a_page_for_a_browser_and_problem_details_in_the_same_words_for_a_script()
    {
        var page = await Client.SendAsync(Asking(new HttpRequestMessage(HttpMethod.Post, "/confirm/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), Browser, "es"));
        var json = await Client.SendAsync(Asking(new HttpRequestMessage(HttpMethod.Post, "/confirm/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "application/json", "es"));

        await AssertPage(page, HttpStatusCode.NotFound, "es", "No reconocemos este enlace");
        var problem = await AssertProblem(json, HttpStatusCode.NotFound);
        Assert.Equal("No reconocemos este enlace", problem.GetProperty("title").GetString());
        Assert.StartsWith("No hemos encontrado este enlace de confirmación.", problem.GetProperty("detail").GetString());
    }
}
