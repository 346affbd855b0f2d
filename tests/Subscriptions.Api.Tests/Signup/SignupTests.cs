using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Signup;

public class SignupTests(ApiFixture fixture) : ApiTest(fixture)
{
    const string Endpoint = "/api/subscriptions";

    sealed record StoredSignup(
        string Email, string EmailAsTyped, string? Name, string? Locale, string List, string Status,
        DateTime ConsentAt, string? ConsentIp, string? ConsentUserAgent, string? ConsentSource, string ConsentTextVersion);

    Task<HttpResponseMessage> PostJson(object body, Action<HttpRequestMessage>? configure = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Endpoint) { Content = JsonContent.Create(body) };
        configure?.Invoke(request);
        return Client.SendAsync(request);
    }

    Task<HttpResponseMessage> PostRaw(string body, string contentType) =>
        Client.PostAsync(Endpoint, new StringContent(body, Encoding.UTF8, contentType));

    Task<HttpResponseMessage> PostForm(params (string Key, string Value)[] fields) =>
        Client.PostAsync(Endpoint, new FormUrlEncodedContent(fields.Select(f => KeyValuePair.Create(f.Key, f.Value))));

    async Task<List<StoredSignup>> StoredSignups()
    {
        await using var connection = await Database.OpenConnectionAsync();
        return (await connection.QueryAsync<StoredSignup>("""
            SELECT s.email AS Email, s.email_as_typed AS EmailAsTyped, s.name AS Name, s.locale AS Locale,
                   l.slug AS List, sub.status AS Status, sub.consent_at AS ConsentAt,
                   host(sub.consent_ip) AS ConsentIp, sub.consent_user_agent AS ConsentUserAgent,
                   sub.consent_source AS ConsentSource, sub.consent_text_version AS ConsentTextVersion
            FROM subscribers s
            JOIN subscriptions sub ON sub.subscriber_id = s.id
            JOIN lists l ON l.id = sub.list_id
            ORDER BY s.id, l.slug
            """)).ToList();
    }

    async Task<long> CountRows(string table)
    {
        await using var connection = await Database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>($"SELECT count(*) FROM {table}");
    }

    async Task<long> SignupEvents()
    {
        await using var connection = await Database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM subscription_events WHERE type = 'signup'");
    }

    async Task AssertNothingStored()
    {
        Assert.Equal(0, await CountRows("subscribers"));
        Assert.Equal(0, await CountRows("subscriptions"));
        Assert.Equal(0, await CountRows("subscription_events"));
    }

    [Fact]
    public async Task Json_signup_is_accepted_and_stored_with_its_consent_evidence()
    {
        var response = await PostJson(
            new { email = "Ann@Example.COM", consent = true, name = "Ann", locale = "en-gb", source = "https://news.example/article" },
            r => r.Headers.UserAgent.ParseAdd("NewsSite/1.0"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("accepted", body.GetProperty("status").GetString());

        var stored = Assert.Single(await StoredSignups());
        Assert.Equal("ann@example.com", stored.Email);
        Assert.Equal("Ann@Example.COM", stored.EmailAsTyped);
        Assert.Equal("Ann", stored.Name);
        Assert.Equal("en-GB", stored.Locale);
        Assert.Equal("news", stored.List);
        Assert.Equal("pending", stored.Status);
        Assert.Equal("127.0.0.1", stored.ConsentIp);
        Assert.Equal("NewsSite/1.0", stored.ConsentUserAgent);
        Assert.Equal("https://news.example/article", stored.ConsentSource);
        Assert.Equal("1", stored.ConsentTextVersion);
        Assert.InRange(stored.ConsentAt, DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddMinutes(1));

        await using var connection = await Database.OpenConnectionAsync();
        var signupEvent = await connection.QuerySingleAsync<(string Type, string Ip, string Source)>(
            "SELECT type, host(ip), source FROM subscription_events WHERE type = 'signup'");
        Assert.Equal(("signup", "127.0.0.1", "https://news.example/article"), signupEvent);
    }

    [Fact]
    public async Task Form_signup_is_stored_and_redirected_to_the_hosted_thank_you_page()
    {
        var response = await PostForm(("email", "reader@example.org"), ("consent", "on"));

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal("/signup/thank-you?list=news", response.Headers.Location?.OriginalString);
        Assert.Equal("reader@example.org", Assert.Single(await StoredSignups()).Email);

        var page = await Client.GetAsync(response.Headers.Location);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Check your inbox", await page.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Form_signup_redirects_to_the_thank_you_url_of_its_list()
    {
        await using (var connection = await Database.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("""
                INSERT INTO lists (slug, name, consent_text, consent_text_version, thank_you_url)
                VALUES ('sport', 'Sport', 'I agree', 'v2', 'https://news.example/thanks')
                """);
        }

        var response = await PostForm(("email", "fan@example.org"), ("consent", "yes"), ("list", "sport"), ("list", "news"));

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal("https://news.example/thanks", response.Headers.Location?.OriginalString);
        var stored = await StoredSignups();
        Assert.Equal(["news", "sport"], stored.Select(s => s.List));
        Assert.Equal(["1", "v2"], stored.Select(s => s.ConsentTextVersion));
    }

    [Theory]
    [InlineData("on")]
    [InlineData("true")]
    [InlineData("YES")]
    [InlineData("1")]
    public async Task Form_consent_accepts_the_values_browsers_and_forms_send(string value)
    {
        var response = await PostForm(("email", "a@example.org"), ("consent", value));

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
    }

    [Fact]
    public async Task Source_falls_back_to_the_referer()
    {
        await PostJson(new { email = "a@example.org", consent = true },
            r => r.Headers.Referrer = new Uri("https://news.example/page?x=1"));

        Assert.Equal("https://news.example/page?x=1", Assert.Single(await StoredSignups()).ConsentSource);
    }

    [Fact]
    public async Task X_Forwarded_For_is_ignored_when_no_proxy_is_trusted()
    {
        await PostJson(new { email = "a@example.org", consent = true },
            r => r.Headers.Add("X-Forwarded-For", "203.0.113.9"));

        Assert.Equal("127.0.0.1", Assert.Single(await StoredSignups()).ConsentIp);
    }

    [Fact]
    public async Task X_Forwarded_For_is_believed_from_a_trusted_proxy()
    {
        await using var behindProxy = new SubscriptionsApp(
            Fixture.ConnectionString,
            new Dictionary<string, string?> { ["Subscriptions:TrustedProxies:0"] = "127.0.0.0/8" });
        using var client = behindProxy.CreateHttpClient();

        using var request = new HttpRequestMessage(HttpMethod.Post, Endpoint)
        {
            Content = JsonContent.Create(new { email = "a@example.org", consent = true }),
        };
        request.Headers.Add("X-Forwarded-For", "198.51.100.7, 203.0.113.9");
        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("203.0.113.9", Assert.Single(await StoredSignups()).ConsentIp);
    }

    public static TheoryData<string, string> InvalidJsonSignups() => new()
    {
        { """{"consent":true}""", "email" },
        { """{"email":"","consent":true}""", "email" },
        { """{"email":"not an address","consent":true}""", "email" },
        { """{"email":"Ann <ann@example.com>","consent":true}""", "email" },
        { """{"email":42,"consent":true}""", "email" },
        { """{"email":"ann@example.com"}""", "consent" },
        { """{"email":"ann@example.com","consent":false}""", "consent" },
        { """{"email":"ann@example.com","consent":"no"}""", "consent" },
        { """{"email":"ann@example.com","consent":1}""", "consent" },
        { $$"""{"email":"ann@example.com","consent":true,"name":"{{new string('n', 201)}}"}""", "name" },
        { """{"email":"ann@example.com","consent":true,"name":"Ann\u0007"}""", "name" },
        { """{"email":"ann@example.com","consent":true,"name":["Ann"]}""", "name" },
        { """{"email":"ann@example.com","consent":true,"locale":"english please"}""", "locale" },
        { """{"email":"ann@example.com","consent":true,"locale":"en_US"}""", "locale" },
        { """{"email":"ann@example.com","consent":true,"lists":["no-such-list"]}""", "lists" },
        { """{"email":"ann@example.com","consent":true,"lists":["News!"]}""", "lists" },
        { """{"email":"ann@example.com","consent":true,"lists":"news"}""", "lists" },
        { """{"email":"ann@example.com","consent":true,"source":"javascript:alert(1)"}""", "source" },
    };

    [Theory]
    [MemberData(nameof(InvalidJsonSignups))]
    public async Task Invalid_json_signup_gets_a_problem_naming_the_field_and_stores_nothing(string body, string field)
    {
        var response = await PostRaw(body, "application/json");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var errors = problem.GetProperty("errors");
        Assert.Single(errors.GetProperty(field).EnumerateArray());
        await AssertNothingStored();
    }

    [Fact]
    public async Task Every_invalid_field_gets_exactly_one_message()
    {
        var response = await PostRaw("""{"email":"x","consent":false,"locale":"??","lists":["nope"]}""", "application/json");

        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal(["consent", "email", "lists", "locale"], errors.EnumerateObject().Select(p => p.Name).Order());
        Assert.All(errors.EnumerateObject(), p => Assert.Single(p.Value.EnumerateArray()));
    }

    [Fact]
    public async Task Unknown_lists_are_named_in_one_message_for_json_and_form_alike()
    {
        var json = await PostRaw("""{"email":"ann@example.com","consent":true,"lists":["news","nope","other","nope"]}""", "application/json");
        var form = await PostForm(("email", "ann@example.com"), ("consent", "on"), ("list", "nope"));
        var malformed = await PostRaw("""{"email":"ann@example.com","consent":true,"lists":["Nope!"]}""", "application/json");

        Assert.Equal(HttpStatusCode.BadRequest, json.StatusCode);
        var messages = (await json.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("lists");
        Assert.Equal(["There is no list named nope, other."], messages.EnumerateArray().Select(m => m.GetString()));
        Assert.Equal(HttpStatusCode.BadRequest, form.StatusCode);
        Assert.Contains("There is no list named nope.", await form.Content.ReadAsStringAsync());
        // a name that cannot be a list gets that message alone, not also "no list named"
        var malformedMessages = (await malformed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("lists");
        Assert.Equal(["List names are lower-case letters, digits and hyphens."], malformedMessages.EnumerateArray().Select(m => m.GetString()));
        await AssertNothingStored();
    }

    [Fact]
    public async Task Invalid_form_signup_gets_a_hosted_page_listing_the_errors_and_stores_nothing()
    {
        var response = await PostForm(("email", "not-an-address"), ("name", "<b>Ann</b>"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("Enter a valid email address", html);
        Assert.Contains("Tick the box to agree to the terms.", html);
        await AssertNothingStored();
    }

    [Fact]
    public async Task A_form_field_given_twice_is_refused()
    {
        var response = await PostForm(("email", "a@example.org"), ("email", "b@example.org"), ("consent", "on"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await AssertNothingStored();
    }

    [Theory]
    [InlineData("{\"email\":", "application/json")]
    [InlineData("[1,2,3]", "application/json")]
    [InlineData("\"ann@example.com\"", "application/json")]
    [InlineData("{\"email\":\"a@example.org\",\"email\":\"b@example.org\",\"consent\":true}", "application/json")]
    [InlineData("email=a@example.org&consent=on", "text/plain")]
    [InlineData("<signup/>", "application/xml")]
    public async Task Malformed_or_unsupported_bodies_get_a_4xx_problem_and_store_nothing(string body, string contentType)
    {
        var response = await PostRaw(body, contentType);

        Assert.InRange((int)response.StatusCode, 400, 499);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        await AssertNothingStored();
    }

    [Fact]
    public async Task A_body_without_content_type_gets_415()
    {
        var response = await Client.PostAsync(Endpoint, new ByteArrayContent("{}"u8.ToArray()));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task Case_and_IDN_variants_of_one_address_make_one_subscriber()
    {
        string[] variants = ["Ann@Bücher.example", "ann@BÜCHER.example", " ann@xn--bcher-kva.example ", "ANN@XN--BCHER-KVA.EXAMPLE"];

        foreach (var email in variants)
        {
            Assert.Equal(HttpStatusCode.Accepted, (await PostJson(new { email, consent = true })).StatusCode);
        }

        var stored = Assert.Single(await StoredSignups());
        Assert.Equal("ann@xn--bcher-kva.example", stored.Email);
        Assert.Equal(variants.Length, await SignupEvents());
    }

    [Fact]
    public async Task Unicode_variants_in_normal_form_C_make_one_subscriber()
    {
        await PostJson(new { email = "cafe\u0301@example.com", consent = true });
        await PostJson(new { email = "caf\u00e9@example.com", consent = true });

        Assert.Equal("caf\u00e9@example.com", Assert.Single(await StoredSignups()).Email);
    }

    [Fact]
    public async Task Twenty_concurrent_signups_of_one_address_store_one_subscriber_and_no_5xx()
    {
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            PostJson(new { email = i % 2 == 0 ? "Race@Example.com" : "race@example.COM", consent = true })));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        Assert.Single(await StoredSignups());
        Assert.Equal(20, await SignupEvents());
    }

    [Fact]
    public async Task The_answer_is_the_same_for_a_new_a_pending_and_a_confirmed_address()
    {
        var first = await PostJson(new { email = "known@example.org", consent = true });
        var pending = await PostJson(new { email = "known@example.org", consent = true });
        await using (var connection = await Database.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("UPDATE subscriptions SET status = 'confirmed', confirmed_at = now()");
        }

        var confirmed = await PostJson(new { email = "known@example.org", consent = true, name = "Someone Else" });

        HttpResponseMessage[] all = [first, pending, confirmed];
        Assert.All(all, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        var bodies = await Task.WhenAll(all.Select(r => r.Content.ReadAsStringAsync()));
        Assert.Single(bodies.Distinct());

        // a stranger's repeat signup neither unconfirms the subscription nor rewrites its details
        var stored = Assert.Single(await StoredSignups());
        Assert.Equal("confirmed", stored.Status);
        Assert.Null(stored.Name);
    }
}
