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

    Task<HttpResponseMessage> PostForm(params (string Key, string Value)[] fields) =>
        Client.PostAsync(Endpoint, new FormUrlEncodedContent(fields.Select(f => KeyValuePair.Create(f.Key, f.Value))));

    static List<(string Name, string Value)> HiddenFields(string page) =>
        [.. System.Text.RegularExpressions.Regex.Matches(page, "<input type=\"hidden\" name=\"([^\"]*)\" value=\"([^\"]*)\">")
            .Select(m => (WebUtility.HtmlDecode(m.Groups[1].Value), WebUtility.HtmlDecode(m.Groups[2].Value)))];

    [Fact]
    public async Task A_form_post_at_a_mistyped_domain_gets_a_page_offering_both_addresses()
    {
        await Execute("INSERT INTO lists (slug, name, consent_text, consent_text_version) VALUES ('sport', 'Sport', 'I agree', 'v1')");
        var response = await PostForm(("email", "Ann@gmial.com"), ("consent", "on"), ("list", "sport"), ("list", "news"),
            ("name", "Ann"), ("locale", "en-GB"), ("source", "https://news.example/article"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains("<h1>Is your address right?</h1>", page);
        Assert.Contains("You entered Ann@gmial.com. Did you mean Ann@gmail.com?", page);
        Assert.Contains(">Use Ann@gmail.com</button>", page);
        Assert.Contains("<a href=\"/signup/thank-you?list=sport&amp;lang=en\">No, Ann@gmial.com is right</a>", page); // the language the locale chose
        Assert.Equal(
            [("email", "Ann@gmail.com"), ("consent", "on"), ("list", "sport"), ("list", "news"), ("name", "Ann"), ("locale", "en-GB"), ("source", "https://news.example/article")],
            HiddenFields(page));
        Assert.Equal("ann@gmial.com", await Scalar<string>("SELECT email FROM subscribers"));

        // the page's button posts the same signup at the suggested address
        var corrected = await PostForm([.. HiddenFields(page)]);

        Assert.Equal(HttpStatusCode.SeeOther, corrected.StatusCode);
        Assert.Equal(2, await Scalar<long>("SELECT count(*) FROM subscriptions s JOIN subscribers r ON r.id = s.subscriber_id WHERE r.email = 'ann@gmail.com' AND r.name = 'Ann' AND s.consent_source = 'https://news.example/article'"));
    }

    [Fact]
    public async Task The_page_encodes_what_the_reader_typed()
    {
        var response = await PostForm(("email", "o'neil+x@gmial.com"), ("consent", "on"), ("name", "\"><script>alert(1)</script>"),
            ("source", "https://news.example/?q=\"><b>x</b>"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script>", page);
        Assert.DoesNotContain("<b>", page);
        Assert.Contains(("name", "\"><script>alert(1)</script>"), HiddenFields(page));
        Assert.Contains(("email", "o'neil+x@gmail.com"), HiddenFields(page));
    }

    [Fact]
    public async Task A_form_post_without_a_near_miss_is_still_redirected()
    {
        var response = await PostForm(("email", "ann@gmail.com"), ("consent", "on"));

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
    }

    public static TheoryData<string, string> HostileFormFields => new()
    {
        { "name", "Ann\u0000" },
        { "name", new string('a', 201) },
        { "locale", "en\"><script>" },
        { "list", "../../etc" },
        { "list", "UNKNOWN" },
        { "source", "javascript:alert(1)" },
        { "source", "https://news.example/" + new string('a', 2048) },
        { "consent", "off" },
        { "website", "https://spam.example" },
    };

    [Theory]
    [MemberData(nameof(HostileFormFields))]
    public async Task A_hostile_form_post_at_a_mistyped_domain_gets_a_page_or_a_400_never_a_5xx(string field, string value)
    {
        var response = await PostForm(("email", "ann@gmial.com"), ("consent", "on"), (field, value));

        var status = (int)response.StatusCode;
        Assert.True(status is 200 or 400, $"{status} {await response.Content.ReadAsStringAsync()}");
        var page = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script>", page);
        if (status == 200)
        {
            Assert.Contains(("email", "ann@gmail.com"), HiddenFields(page));
        }
    }

    [Fact]
    public async Task A_multipart_form_post_at_a_mistyped_domain_gets_the_page_too()
    {
        using var form = new MultipartFormDataContent { { new StringContent("ann@yahoo.co"), "email" }, { new StringContent("on"), "consent" } };

        var response = await Client.PostAsync(Endpoint, form);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(("email", "ann@yahoo.com"), HiddenFields(await response.Content.ReadAsStringAsync()));
    }
}
