using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Signup;

public class SignupSuggestionTests(ApiFixture fixture) : ApiTest(fixture)
{
    const string Endpoint = "/api/subscriptions";

    async Task<(HttpStatusCode Status, JsonElement Body, string Text)> SignUp(object body, HttpClient? client = null)
    {
        var response = await (client ?? Client).PostAsJsonAsync(Endpoint, body);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement, text);
    }

    [Fact]
    public async Task Json_signup_at_a_mistyped_domain_is_accepted_as_typed_with_a_suggestion()
    {
        var (status, body, _) = await SignUp(new { email = "Ann@gmial.com", consent = true });

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal("accepted", body.GetProperty("status").GetString());
        Assert.Equal("Ann@gmail.com", body.GetProperty("suggestion").GetString());
        // a hint, not a correction: the address stays as the reader typed it until they change it
        Assert.Equal("ann@gmial.com", await Scalar<string>("SELECT email FROM subscribers"));
    }

    [Theory]
    [InlineData("ann@gmail.com")]
    [InlineData("ann@gmx.de")]
    [InlineData("ann@gmx.com")]
    [InlineData("ann@news.example")]
    public async Task Json_signup_without_a_near_miss_has_no_suggestion_field(string email)
    {
        var (status, body, _) = await SignUp(new { email, consent = true });

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.False(body.TryGetProperty("suggestion", out _));
    }

    [Fact]
    public async Task The_suggestion_is_the_same_for_new_pending_confirmed_and_suppressed_addresses()
    {
        var signup = new { email = "ann@hotmial.com", consent = true };
        var asNew = (await SignUp(signup)).Text;
        var asPending = (await SignUp(signup)).Text;
        await Execute("UPDATE subscriptions SET status = 'confirmed', confirmed_at = now()");
        var asConfirmed = (await SignUp(signup)).Text;
        using var admin = AdminClient();
        var suppressed = await admin.PostAsJsonAsync("/api/admin/suppressions", new { email = "ann@hotmial.com" });
        Assert.True(suppressed.IsSuccessStatusCode, await suppressed.Content.ReadAsStringAsync());
        var asSuppressed = (await SignUp(signup)).Text;

        Assert.Contains("\"suggestion\":\"ann@hotmail.com\"", asNew, StringComparison.Ordinal);
        Assert.Equal(asNew, asPending);
        Assert.Equal(asNew, asConfirmed);
        Assert.Equal(asNew, asSuppressed);
    }

    [Fact]
    public async Task A_bot_filling_the_honeypot_gets_the_suggestion_a_person_would_get()
    {
        var person = (await SignUp(new { email = "ann@outlok.com", consent = true })).Text;
        var bot = (await SignUp(new { email = "bob@outlok.com", consent = true, website = "https://spam.example" })).Text;

        Assert.Equal(person.Replace("ann@", "bob@", StringComparison.Ordinal), bot);
    }

    [Fact]
    public async Task A_refused_signup_carries_no_suggestion()
    {
        var (status, body, _) = await SignUp(new { email = "ann@gmial.com", consent = false });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.False(body.TryGetProperty("suggestion", out _));
    }

    [Fact]
    public async Task Domains_the_operator_configures_are_suggested_and_never_corrected()
    {
        await using var app = Fixture.StartApp(("Signup:CommonDomains:0", "kundenpost.example"), ("Signup:CommonDomains:1", "gmial.com"));
        using var client = app.CreateHttpClient();

        var typo = await SignUp(new { email = "ann@kundenpots.example", consent = true }, client);
        var configured = await SignUp(new { email = "bob@gmial.com", consent = true }, client);

        Assert.Equal("ann@kundenpost.example", typo.Body.GetProperty("suggestion").GetString());
        Assert.False(configured.Body.TryGetProperty("suggestion", out _));
    }

    [Theory]
    [InlineData("ann@gmial.com\u0000")]
    [InlineData("ann@gmi\u200Bal.com")]
    [InlineData("ann@gmаil.com")]
    [InlineData("ann@@gmial.com")]
    public async Task Hostile_addresses_near_a_common_domain_are_refused_without_a_suggestion(string email)
    {
        var (status, body, _) = await SignUp(new { email, consent = true });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(body.GetProperty("errors").TryGetProperty("email", out _));
        Assert.False(body.TryGetProperty("suggestion", out _));
    }
}
