using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Admin;

public class ListAdministrationTests(ApiFixture fixture) : ApiTest(fixture)
{
    static object Sport(
        string? slug = "sport", string consentText = "I agree to the sport terms", string version = "2026-11",
        string thankYouUrl = "https://news.example/sport/thanks") => new
    {
        slug,
        name = "Sport",
        senderName = "Sport Desk",
        senderEmail = "sport@news.example",
        thankYouUrl,
        confirmedUrl = "https://news.example/sport/welcome",
        errorUrl = "http://localhost:8080/oops",
        allowedOrigins = new[] { "https://news.example", "https://www.news.example:8443/" },
        consentText,
        consentTextVersion = version,
        defaultLocale = "de-de",
    };

    [Fact]
    public async Task A_list_is_created_read_and_replaced()
    {
        using var admin = AdminClient();

        var created = await admin.PostAsJsonAsync("/api/admin/lists", Sport());
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("/api/admin/lists/sport", created.Headers.Location?.OriginalString);
        var list = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("de-DE", list.GetProperty("defaultLocale").GetString());
        Assert.Equal(["https://news.example", "https://www.news.example:8443"],
            list.GetProperty("allowedOrigins").EnumerateArray().Select(o => o.GetString()));

        var replaced = await admin.PutAsJsonAsync("/api/admin/lists/sport", Sport(slug: null, "New terms", "2026-12"));
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        Assert.Equal("2026-12", (await replaced.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("consentTextVersion").GetString());

        var all = await admin.GetFromJsonAsync<JsonElement>("/api/admin/lists");
        Assert.Equal(["news", "sport"], all.EnumerateArray().Select(l => l.GetProperty("slug").GetString()));

        // the new list takes signups at once
        var signup = await Client.PostAsJsonAsync("/api/subscriptions", new { email = "fan@example.org", consent = true, lists = new[] { "sport" } });
        Assert.Equal(HttpStatusCode.Accepted, signup.StatusCode);
        Assert.Equal("2026-12", await Scalar<string>("SELECT consent_text_version FROM subscriptions"));
    }

    [Fact]
    public async Task A_form_signup_follows_a_replaced_thank_you_url_at_once()
    {
        using var admin = AdminClient();
        await admin.PostAsJsonAsync("/api/admin/lists", Sport());
        async Task<Uri?> FormSignup(string email) => (await Client.PostAsync("/api/subscriptions", new FormUrlEncodedContent(
            [KeyValuePair.Create("email", email), KeyValuePair.Create("consent", "on"), KeyValuePair.Create("list", "sport")]))).Headers.Location;
        Assert.Equal("https://news.example/sport/thanks", (await FormSignup("first@example.org"))?.OriginalString);

        var replaced = await admin.PutAsJsonAsync("/api/admin/lists/sport", Sport(slug: null, thankYouUrl: "https://news.example/sport/merci"));
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);

        // the signup's copy of the lists was dropped by the change, not kept for its 30 seconds
        Assert.Equal("https://news.example/sport/merci", (await FormSignup("second@example.org"))?.OriginalString);
    }

    [Fact]
    public async Task A_taken_slug_gets_409_and_an_unknown_one_404()
    {
        using var admin = AdminClient();

        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostAsJsonAsync("/api/admin/lists", Sport(slug: "news"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PutAsJsonAsync("/api/admin/lists/nope", Sport(slug: null))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/api/admin/lists/nope")).StatusCode);
    }

    [Fact]
    public async Task Changing_the_consent_text_without_a_new_version_is_refused()
    {
        using var admin = AdminClient();
        await admin.PostAsJsonAsync("/api/admin/lists", Sport());

        var response = await admin.PutAsJsonAsync("/api/admin/lists/sport", Sport(slug: null, "Quietly different terms", "2026-11"));

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("I agree to the sport terms", await Scalar<string>("SELECT consent_text FROM lists WHERE slug = 'sport'"));
    }

    [Theory]
    [InlineData("slug", "Not A Slug")]
    [InlineData("slug", "sport\n")]
    [InlineData("name", "")]
    [InlineData("senderEmail", "not-an-address")]
    [InlineData("thankYouUrl", "http://news.example/thanks")]
    [InlineData("confirmedUrl", "/relative")]
    [InlineData("errorUrl", "javascript:alert(1)")]
    [InlineData("allowedOrigins", "https://news.example/path")]
    [InlineData("allowedOrigins", "*")]
    [InlineData("consentText", "")]
    [InlineData("consentTextVersion", "")]
    [InlineData("defaultLocale", "english")]
    public async Task Invalid_list_fields_get_a_problem_naming_the_field(string field, string value)
    {
        using var admin = AdminClient();
        var body = JsonSerializer.SerializeToNode(Sport())!.AsObject();
        body[field] = field == "allowedOrigins" ? new System.Text.Json.Nodes.JsonArray(value) : value;

        var response = await admin.PostAsJsonAsync("/api/admin/lists", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out _), errors.ToString());
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM lists"));
    }

    [Theory]
    [InlineData("consentText", "\"I agree.\\u0000\"")]
    [InlineData("consentText", "\"I agree.\\u0007\"")]
    [InlineData("allowedOrigins", "[null]")]
    [InlineData("allowedOrigins", "[\"https://news.example\", null]")]
    public async Task A_value_PostgreSQL_cannot_store_or_a_null_origin_is_400_on_create_and_replace(string field, string json)
    {
        using var admin = AdminClient();
        var body = $$"""{"name":"Sport","consentText":"I agree.","consentTextVersion":"v1","{{field}}":{{json}}}""";

        var created = await admin.PostAsync("/api/admin/lists", new StringContent(body.Insert(1, "\"slug\":\"sport\","), System.Text.Encoding.UTF8, "application/json"));
        var replaced = await admin.PutAsync("/api/admin/lists/news", new StringContent(body.Replace("v1", "v2", StringComparison.Ordinal), System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, created.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, replaced.StatusCode);
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM lists"));
    }

    [Fact]
    public async Task A_consent_text_keeps_its_line_breaks()
    {
        using var admin = AdminClient();

        var created = await admin.PostAsJsonAsync("/api/admin/lists",
            new { slug = "sport", name = "Sport", consentText = "I agree.\r\nAnd\tmore.", consentTextVersion = "v1" });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }

    [Theory]
    [InlineData("application/json; charset=x-no-such-charset", "utf-8")]
    [InlineData("application/json; charset=utf-7", "utf-8")]
    [InlineData("application/json; charset=windows-1252", "utf-8")]
    [InlineData("application/json; charset=utf-16", "utf-16")]
    public async Task A_body_in_a_charset_other_than_utf8_is_415_not_transcoded_or_a_500(string contentType, string encoding)
    {
        using var admin = AdminClient();
        var body = System.Text.Encoding.GetEncoding(encoding).GetBytes("""{"slug":"sport","name":"Sport","consentText":"I agree.","consentTextVersion":"v1"}""");
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        var created = await admin.PostAsync("/api/admin/lists", content);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, created.StatusCode);
        Assert.Equal("application/problem+json", created.Content.Headers.ContentType?.MediaType);
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM lists"));
    }

    static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    static string Wording(string version = "v1", string translations = """{"de":{"name":"Sport (de)","consentText":"Ich stimme zu."}}""") =>
        $$"""{"slug":"sport","name":"Sport","consentText":"I agree.","consentTextVersion":"{{version}}","translations":{{translations}}}""";

    static Dictionary<string, (string Name, string ConsentText)> TranslationsOf(JsonElement list) =>
        list.GetProperty("translations").EnumerateObject().ToDictionary(
            t => t.Name, t => (t.Value.GetProperty("name").GetString()!, t.Value.GetProperty("consentText").GetString()!));

    [Fact]
    public async Task A_list_carries_its_name_and_consent_text_per_language()
    {
        using var admin = AdminClient();

        var created = await admin.PostAsync("/api/admin/lists", Json(Wording(translations: """
            {"FR":{"name":" Sport (fr) ","consentText":"J'accepte."},"de":{"name":"Sport (de)","consentText":"Ich stimme zu.\nDanke."}}
            """)));

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var expected = new Dictionary<string, (string, string)> { ["de"] = ("Sport (de)", "Ich stimme zu.\nDanke."), ["fr"] = ("Sport (fr)", "J'accepte.") };
        Assert.Equal(expected, TranslationsOf(await created.Content.ReadFromJsonAsync<JsonElement>()));
        Assert.Equal(expected, TranslationsOf(await admin.GetFromJsonAsync<JsonElement>("/api/admin/lists/sport")));
        var all = await admin.GetFromJsonAsync<JsonElement>("/api/admin/lists");
        Assert.Equal(expected, TranslationsOf(all.EnumerateArray().Single(l => l.GetProperty("slug").GetString() == "sport")));
        Assert.Empty(TranslationsOf(all.EnumerateArray().Single(l => l.GetProperty("slug").GetString() == "news")));

        // a replacement replaces them: a name changes, a language comes, under the same version
        var replaced = await admin.PutAsync("/api/admin/lists/sport", Json(Wording(translations: """
            {"de":{"name":"Sportnachrichten","consentText":"Ich stimme zu.\nDanke."},"fr":{"name":"Sport (fr)","consentText":"J'accepte."},"pl":{"name":"Sport (pl)","consentText":"Zgadzam się."}}
            """)));

        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        Assert.Equal(["de", "fr", "pl"], TranslationsOf(await replaced.Content.ReadFromJsonAsync<JsonElement>()).Keys);
        Assert.Equal("Sportnachrichten", await Scalar<string>(
            "SELECT t.name FROM list_translations t JOIN lists l ON l.id = t.list_id WHERE l.slug = 'sport' AND t.language = 'de'"));
        Assert.Equal(3, await Scalar<long>("SELECT count(*) FROM list_translations"));
    }

    [Fact]
    public async Task A_list_without_translations_answers_an_empty_set_and_a_replacement_without_them_keeps_none()
    {
        using var admin = AdminClient();
        await admin.PostAsJsonAsync("/api/admin/lists", Sport());

        Assert.Empty(TranslationsOf(await admin.GetFromJsonAsync<JsonElement>("/api/admin/lists/sport")));
        var replaced = await admin.PutAsync("/api/admin/lists/sport", Json(Wording(translations: "null").Replace("\"slug\":\"sport\",", "", StringComparison.Ordinal)));

        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        Assert.Empty(TranslationsOf(await replaced.Content.ReadFromJsonAsync<JsonElement>()));
    }

    [Theory]
    [InlineData("""{"de":{"name":"Sport (de)","consentText":"Ich stimme jetzt zu."}}""", "de")]
    [InlineData("{}", "de")]
    [InlineData("""{"fr":{"name":"Sport (fr)","consentText":"J'accepte."}}""", "de")]
    public async Task A_translated_consent_text_changed_or_removed_under_the_same_version_is_409(string translations, string language)
    {
        using var admin = AdminClient();
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsync("/api/admin/lists", Json(Wording()))).StatusCode);

        var refused = await admin.PutAsync("/api/admin/lists/sport", Json(Wording(translations: translations)));

        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains($"consent text in {language} changed", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        Assert.Equal("Ich stimme zu.", await Scalar<string>("SELECT consent_text FROM list_translations"));

        // a new version may change anything
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsync("/api/admin/lists/sport", Json(Wording("v2", translations)))).StatusCode);
    }

    [Fact]
    public async Task A_translation_may_become_the_default_wording_under_the_same_version_when_no_text_changes_its_language()
    {
        using var admin = AdminClient();
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsync("/api/admin/lists", Json(Wording()))).StatusCode);

        // the German text becomes the list's own, the English one a translation: every language keeps its text
        var swapped = await admin.PutAsync("/api/admin/lists/sport", Json("""
            {"name":"Sport (de)","consentText":"Ich stimme zu.","consentTextVersion":"v1","defaultLocale":"de-DE",
             "translations":{"en":{"name":"Sport","consentText":"I agree."}}}
            """));
        Assert.Equal(HttpStatusCode.OK, swapped.StatusCode);

        // moving the default to another language under the same text and version would relabel evidence
        var relabelled = await admin.PutAsync("/api/admin/lists/sport", Json("""
            {"name":"Sport (de)","consentText":"Ich stimme zu.","consentTextVersion":"v1","defaultLocale":"fr","translations":{"en":{"name":"Sport","consentText":"I agree."}}}
            """));
        Assert.Equal(HttpStatusCode.Conflict, relabelled.StatusCode);
    }

    [Theory]
    [InlineData("""{"xx":{"name":"X","consentText":"X"}}""", "translations")]
    [InlineData("""{"de-CH":{"name":"X","consentText":"X"}}""", "translations")]
    [InlineData("""{"":{"name":"X","consentText":"X"}}""", "translations")]
    [InlineData("""{"de\u0000":{"name":"X","consentText":"X"}}""", "translations")]
    [InlineData("""{"en":{"name":"Sport","consentText":"I agree."}}""", "translations.en")]
    [InlineData("""{"de":{"name":"X","consentText":"X"},"DE":{"name":"Y","consentText":"Y"}}""", "translations.de")]
    [InlineData("""{"de":null}""", "translations.de")]
    [InlineData("""{"de":{"consentText":"X"}}""", "translations.de.name")]
    [InlineData("""{"de":{"name":"","consentText":"X"}}""", "translations.de.name")]
    [InlineData("""{"de":{"name":null,"consentText":"X"}}""", "translations.de.name")]
    [InlineData("""{"de":{"name":"Sport\r\nBcc: x@y.z","consentText":"X"}}""", "translations.de.name")]
    [InlineData("""{"de":{"name":"Sport\u0000","consentText":"X"}}""", "translations.de.name")]
    [InlineData("""{"de":{"name":"Sport","consentText":""}}""", "translations.de.consentText")]
    [InlineData("""{"de":{"name":"Sport","consentText":"Ich\u0007stimme zu."}}""", "translations.de.consentText")]
    [InlineData("""{"de":{"name":"Sport","consentText":"Ich \u001b[31mstimme zu."}}""", "translations.de.consentText")]
    public async Task Invalid_translations_get_a_problem_naming_the_field_on_create_and_replace(string translations, string field)
    {
        using var admin = AdminClient();

        var created = await admin.PostAsync("/api/admin/lists", Json(Wording(translations: translations)));
        var replaced = await admin.PutAsync("/api/admin/lists/news", Json(Wording("v2", translations).Replace("\"slug\":\"sport\",", "", StringComparison.Ordinal)));

        foreach (var response in new[] { created, replaced })
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
            Assert.True(errors.TryGetProperty(field, out _), errors.ToString());
        }

        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM lists"));
        Assert.Equal("1", await Scalar<string>("SELECT consent_text_version FROM lists"));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM list_translations"));
    }

    [Theory]
    [InlineData(201, 1)]
    [InlineData(1, 2001)]
    public async Task A_translation_longer_than_the_lists_own_wording_may_be_is_400(int nameLength, int consentLength)
    {
        using var admin = AdminClient();
        var translations = $$$"""{"de":{"name":"{{{new string('n', nameLength)}}}","consentText":"{{{new string('c', consentLength)}}}"}}""";

        var response = await admin.PostAsync("/api/admin/lists", Json(Wording(translations: translations)));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty(nameLength > 200 ? "translations.de.name" : "translations.de.consentText", out _), errors.ToString());
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM list_translations"));
    }

    [Theory]
    [InlineData("\"de\"")]
    [InlineData("[]")]
    [InlineData("5")]
    [InlineData("true")]
    [InlineData("""{"de":"Sport"}""")]
    [InlineData("""{"de":[]}""")]
    [InlineData("""{"de":{"name":5,"consentText":"X"}}""")]
    [InlineData("""{"de":{"name":"X","consentText":["X"]}}""")]
    [InlineData("""{"de":{"name":"X","consentText":{"text":"X"}}}""")]
    [InlineData("""{"de":{"name":"\ud800","consentText":"X"}}""")]
    [InlineData("""{"\ud800":{"name":"X","consentText":"X"}}""")]
    public async Task Translations_of_the_wrong_JSON_type_are_400_problem_details(string translations)
    {
        using var admin = AdminClient();

        var created = await admin.PostAsync("/api/admin/lists", Json(Wording(translations: translations)));
        var replaced = await admin.PutAsync("/api/admin/lists/news", Json(Wording("v2", translations).Replace("\"slug\":\"sport\",", "", StringComparison.Ordinal)));

        Assert.Equal(HttpStatusCode.BadRequest, created.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, replaced.StatusCode);
        Assert.Equal("application/problem+json", created.Content.Headers.ContentType?.MediaType);
        Assert.Equal("application/problem+json", replaced.Content.Headers.ContentType?.MediaType);
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM lists"));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM list_translations"));
    }
}
