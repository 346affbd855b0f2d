using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Signup;

/// <summary>The consent evidence names the language of the consent text the reader was shown: their translation, or the list's own text.</summary>
public class ConsentTextLanguageTests(ApiFixture fixture) : ApiTest(fixture)
{
    async Task CreateSport(string defaultLocale = "en-GB")
    {
        using var admin = AdminClient();
        var created = await admin.PostAsJsonAsync("/api/admin/lists", new
        {
            slug = "sport", name = "Sport", consentText = "I agree to the sport terms.", consentTextVersion = "2026-11", defaultLocale,
            translations = new Dictionary<string, object>
            {
                ["de"] = new { name = "Sportnachrichten", consentText = "Ich stimme den Sport-Bedingungen zu." },
                ["pl"] = new { name = "Sport (pl)", consentText = "Zgadzam się na warunki." },
            },
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }

    async Task SignUp(HttpContent body, string? acceptLanguage)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/subscriptions") { Content = body };
        if (acceptLanguage is not null)
        {
            request.Headers.AcceptLanguage.ParseAdd(acceptLanguage);
        }

        var response = await Client.SendAsync(request);
        Assert.True(response.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.SeeOther, response.StatusCode.ToString());
    }

    Task<string> Recorded(string list) => Scalar<string>(
        "SELECT sub.consent_text_language FROM subscriptions sub JOIN lists l ON l.id = sub.list_id WHERE l.slug = @list", new { list });

    Task<string> Ledger(string list) => Scalar<string>(
        "SELECT e.consent_text_language FROM subscription_events e JOIN lists l ON l.id = e.list_id WHERE l.slug = @list AND e.type = 'signup'", new { list });

    [Fact]
    public async Task A_German_reader_is_recorded_as_shown_the_German_consent_text_in_the_ledger_and_the_export()
    {
        await CreateSport();

        await SignUp(JsonContent.Create(new { email = "leser@example.org", consent = true, lists = new[] { "sport" } }), "de-AT,de;q=0.9,en;q=0.5");

        Assert.Equal("de", await Recorded("sport"));
        Assert.Equal("de", await Ledger("sport"));
        Assert.Equal("2026-11", await Scalar<string>("SELECT consent_text_version FROM subscription_events WHERE type = 'signup'"));
        using var admin = AdminClient();
        var row = JsonDocument.Parse(await admin.GetStringAsync("/api/admin/export?format=ndjson")).RootElement;
        Assert.Equal("de", row.GetProperty("consent_text_language").GetString());
    }

    [Fact]
    public async Task A_form_post_from_a_German_browser_is_recorded_as_German_too()
    {
        await CreateSport();

        await SignUp(new FormUrlEncodedContent([new("email", "leser@example.org"), new("consent", "on"), new("list", "sport")]), "de");

        Assert.Equal("de", await Recorded("sport"));
    }

    [Theory]
    [InlineData("fr", "en-GB", "en")]
    [InlineData("es", "de-DE", "de")]
    [InlineData(null, "de-DE", "de")]
    [InlineData("ja", "en", "en")]
    public async Task A_reader_whose_language_has_no_translation_is_recorded_as_shown_the_lists_own_text(
        string? acceptLanguage, string defaultLocale, string recorded)
    {
        // (a list whose own wording is German has no German translation: the German readers get the list's own text)
        using var admin = AdminClient();
        var translations = defaultLocale.StartsWith("de", StringComparison.Ordinal) ? "{}" : """{"pl":{"name":"Sport (pl)","consentText":"Zgadzam się."}}""";
        var created = await admin.PostAsync("/api/admin/lists", new StringContent($$"""
            {"slug":"sport","name":"Sport","consentText":"Terms.","consentTextVersion":"v1","defaultLocale":"{{defaultLocale}}","translations":{{translations}}}
            """, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        await SignUp(JsonContent.Create(new { email = "reader@example.org", consent = true, lists = new[] { "sport" } }), acceptLanguage);

        Assert.Equal(recorded, await Recorded("sport"));
        Assert.Equal(recorded, await Ledger("sport"));
    }

    [Fact]
    public async Task The_locale_field_picks_the_wording_as_it_picks_the_mails_language()
    {
        await CreateSport();

        await SignUp(JsonContent.Create(new { email = "leser@example.org", consent = true, lists = new[] { "sport" }, locale = "pl-PL" }), "de");

        Assert.Equal("pl", await Recorded("sport"));
    }

    [Fact]
    public async Task Each_list_of_a_signup_records_the_language_of_its_own_text()
    {
        await CreateSport();

        await SignUp(JsonContent.Create(new { email = "leser@example.org", consent = true, lists = new[] { "sport", "news" } }), "de");

        Assert.Equal("de", await Recorded("sport"));
        Assert.Equal("en", await Recorded("news"));
    }

    [Fact]
    public async Task A_repeat_signup_of_a_confirmed_subscription_keeps_the_language_it_was_confirmed_with()
    {
        await CreateSport();
        await SignUp(JsonContent.Create(new { email = "leser@example.org", consent = true, lists = new[] { "sport" } }), "de");
        await Execute("UPDATE subscriptions SET status = 'confirmed', confirmed_at = now()");

        await SignUp(JsonContent.Create(new { email = "leser@example.org", consent = true, lists = new[] { "sport" } }), "pl");

        Assert.Equal("de", await Recorded("sport"));
    }
}
