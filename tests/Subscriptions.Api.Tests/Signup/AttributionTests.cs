using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Subscriptions.Api.Signup;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;
using Subscriptions.Api.Tests.Webhooks;

namespace Subscriptions.Api.Tests.Signup;

/// <summary>Pure rules of <see cref="Attribution"/>: where the utm values come from, and which are kept.</summary>
public class AttributionRuleTests
{
    static SignupInput Input(string? source = null, string? medium = null, string? campaign = null) =>
        new("ann@example.org", "on", null, null, [], null, UtmSource: source, UtmMedium: medium, UtmCampaign: campaign);

    [Fact]
    public void The_signups_own_fields_win_over_the_pages_query_string_and_are_never_mixed_with_it()
    {
        var attribution = Attribution.From(Input(source: " newsletter "), "https://news.example/a?utm_source=x&utm_medium=y&utm_campaign=z");

        Assert.Equal(new Attribution("newsletter", null, null), attribution);
    }

    [Theory]
    [InlineData("https://news.example/a?utm_source=Newsletter&utm_medium=email&utm_campaign=Sommer%20Aktion", "Newsletter", "email", "Sommer Aktion")]
    [InlineData("https://news.example/a?utm_campaign=spring+sale&utm_source=fb", "fb", null, "spring sale")]
    [InlineData("https://news.example/a?UTM_SOURCE=upper", "upper", null, null)]
    [InlineData("https://news.example/a?utm_source=first&utm_source=second", "first", null, null)]
    [InlineData("https://news.example/a?utm_source=n%C3%A9ws%F0%9F%93%B0", "néws📰", null, null)]
    public void Without_fields_of_its_own_the_values_come_from_the_source_pages_query_string(string page, string? source, string? medium, string? campaign) =>
        Assert.Equal(new Attribution(source, medium, campaign), Attribution.From(Input(), page));

    [Theory]
    [InlineData(null)]
    [InlineData("https://news.example/a")]
    [InlineData("https://news.example/a?")]
    [InlineData("https://news.example/a?ref=x#utm_source=fragment")]
    [InlineData("not a url")]
    // values a field would be refused for are dropped: control characters, too long, not UTF-8, blank
    [InlineData("https://news.example/a?utm_source=a%00b")]
    [InlineData("https://news.example/a?utm_source=line%0Abreak")]
    [InlineData("https://news.example/a?utm_source=%20%20")]
    [InlineData("https://news.example/a?utm_source=&utm_medium=")]
    public void Bad_or_missing_values_in_the_pages_url_are_dropped(string? page) =>
        Assert.Equal(Attribution.None, Attribution.From(Input(), page));

    // escapes that decode to no UTF-8 (or to a lone surrogate) stay as written: plain text all the same
    [Theory]
    [InlineData("https://news.example/a?utm_source=%FF%FE", "%FF%FE")]
    [InlineData("https://news.example/a?utm_source=%ED%A0%80", "%ED%A0%80")]
    [InlineData("https://news.example/a?utm_source=%", "%")]
    public void Escapes_that_decode_to_no_text_are_kept_as_written(string page, string kept) =>
        Assert.Equal(new Attribution(kept, null, null), Attribution.From(Input(), page));

    [Fact]
    public void A_value_is_at_most_a_hundred_characters_once_trimmed()
    {
        Assert.True(Attribution.IsValid(new string('a', 100)));
        Assert.True(Attribution.IsValid("  " + new string('a', 100) + "  "));
        Assert.False(Attribution.IsValid(new string('a', 101)));
        Assert.Equal(Attribution.None, Attribution.From(Input(), "https://news.example/?utm_source=" + new string('a', 101)));
    }
}

/// <summary>utm_source, utm_medium, utm_campaign through the running service: stored, exported, sent on, refused.</summary>
public sealed class AttributionTests(ApiFixture fixture, ReceiverFixture receivers) : ApiTest(fixture), IClassFixture<ReceiverFixture>
{
    const string EvidenceSql = """
        SELECT concat_ws('|', sub.utm_source, sub.utm_medium, sub.utm_campaign, e.utm_source, e.utm_medium, e.utm_campaign)
        FROM subscriptions sub JOIN subscription_events e ON e.subscription_id = sub.id AND e.type = 'signup'
        JOIN subscribers s ON s.id = sub.subscriber_id WHERE s.email = @email ORDER BY e.id DESC LIMIT 1
        """;

    Task<string> Evidence(string email) => Scalar<string>(EvidenceSql, new { email });

    static FormUrlEncodedContent Form(params (string Name, string Value)[] fields) =>
        new(fields.Select(f => KeyValuePair.Create(f.Name, f.Value)));

    /// <summary>A form post from a script that asks for problem details (a browser would get the page of errors).</summary>
    Task<HttpResponseMessage> PostForm(HttpContent form)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/subscriptions") { Content = form };
        request.Headers.Accept.ParseAdd("application/json");
        return Client.SendAsync(request);
    }

    [Fact]
    public async Task Json_fields_are_kept_with_the_consent_evidence_and_the_ledger_and_come_out_in_both_exports()
    {
        var response = await Client.PostAsJsonAsync("/api/subscriptions", new Dictionary<string, object>
        {
            ["email"] = "ann@example.org", ["consent"] = true, ["source"] = "https://news.example/a?utm_source=ignored",
            ["utm_source"] = "Newsletter", ["utm_medium"] = "email", ["utm_campaign"] = "Sommer-Aktion 2026",
        });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("Newsletter|email|Sommer-Aktion 2026|Newsletter|email|Sommer-Aktion 2026", await Evidence("ann@example.org"));
        using var admin = AdminClient();
        var csv = await admin.GetStringAsync("/api/admin/export?format=csv");
        Assert.Contains("consent_text_language,utm_source,utm_medium,utm_campaign,locale", csv);
        Assert.Contains(",en,Newsletter,email,Sommer-Aktion 2026,", csv);
        var row = JsonDocument.Parse(await admin.GetStringAsync("/api/admin/export?format=ndjson")).RootElement;
        Assert.Equal("Newsletter", row.GetProperty("utm_source").GetString());
        Assert.Equal("email", row.GetProperty("utm_medium").GetString());
        Assert.Equal("Sommer-Aktion 2026", row.GetProperty("utm_campaign").GetString());
    }

    [Fact]
    public async Task A_form_without_the_fields_takes_them_from_its_source_field_or_else_the_referer()
    {
        await Client.PostAsync("/api/subscriptions", Form(("email", "bob@example.org"), ("consent", "on"),
            ("source", "https://news.example/article?utm_source=twitter&utm_medium=social&utm_campaign=launch")));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/subscriptions")
        {
            Content = Form(("email", "cy@example.org"), ("consent", "on")),
        };
        request.Headers.Referrer = new Uri("https://news.example/page?utm_campaign=referred&utm_source=bing");
        await Client.SendAsync(request);
        // a form's own hidden fields, beside a source URL that says otherwise
        await Client.PostAsync("/api/subscriptions", Form(("email", "di@example.org"), ("consent", "on"),
            ("source", "https://news.example/?utm_source=url"), ("utm_source", "hidden-field")));

        Assert.Equal("twitter|social|launch|twitter|social|launch", await Evidence("bob@example.org"));
        Assert.Equal("bing|referred|bing|referred", await Evidence("cy@example.org"));
        Assert.Equal("hidden-field|hidden-field", await Evidence("di@example.org"));
    }

    [Fact]
    public async Task Bad_values_in_the_source_pages_url_are_dropped_and_the_signup_goes_through()
    {
        var response = await Client.PostAsJsonAsync("/api/subscriptions", new
        {
            email = "eve@example.org", consent = true,
            source = $"https://news.example/?utm_source={new string('s', 101)}&utm_medium=%00&utm_campaign=kept",
        });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("kept|kept", await Evidence("eve@example.org"));
    }

    public static TheoryData<string, string> HostileJson => new()
    {
        { "utm_source", $$"""{"email":"x@example.org","consent":true,"utm_source":"{{new string('a', 101)}}"}""" },
        { "utm_medium", """{"email":"x@example.org","consent":true,"utm_medium":"a\u0000b"}""" },
        { "utm_campaign", """{"email":"x@example.org","consent":true,"utm_campaign":"line\nbreak"}""" },
        { "utm_campaign", """{"email":"x@example.org","consent":true,"utm_campaign":"\ud800"}""" },
        { "utm_source", """{"email":"x@example.org","consent":true,"utm_source":42}""" },
        { "utm_source", """{"email":"x@example.org","consent":true,"utm_source":["a","b"]}""" },
        { "utm_medium", """{"email":"x@example.org","consent":true,"utm_medium":{"a":1}}""" },
        { "utm_medium", """{"email":"x@example.org","consent":true,"utm_medium":true}""" },
        { "utm_source", """{"email":"x@example.org","consent":true,"utm_source":"   "}""" },
    };

    [Theory]
    [MemberData(nameof(HostileJson))]
    public async Task A_bad_utm_field_in_json_is_refused_with_a_message_naming_it_and_nothing_is_stored(string field, string body)
    {
        var response = await Client.PostAsync("/api/subscriptions", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out var messages), errors.ToString());
        Assert.NotEmpty(messages.EnumerateArray().Single().GetString()!);
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscriptions"));
    }

    [Fact]
    public async Task Bad_utm_fields_in_a_form_are_refused_in_the_readers_language_and_nothing_is_stored()
    {
        var tooLong = await PostForm(Form(("email", "x@example.org"), ("consent", "on"), ("locale", "de"),
            ("utm_campaign", new string('k', 101))));
        var repeated = await PostForm(Form(("email", "x@example.org"), ("consent", "on"),
            ("utm_source", "a"), ("utm_source", "b")));
        var control = await PostForm(Form(("email", "x@example.org"), ("consent", "on"), ("utm_medium", "\u0007bell")));
        using var notUtf8 = new ByteArrayContent([.. "email=x%40example.org&consent=on&utm_source="u8, 0xFF, 0xFE]);
        notUtf8.Headers.ContentType = new("application/x-www-form-urlencoded");
        var latin1 = await PostForm(notUtf8);

        foreach (var (response, field) in new[] { (tooLong, "utm_campaign"), (repeated, "utm_source"), (control, "utm_medium"), (latin1, "utm_source") })
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
            Assert.True(errors.TryGetProperty(field, out var messages), field);
            if (response == tooLong)
            {
                Assert.Equal("utm_campaign muss ein Text aus höchstens 100 Zeichen ohne Steuerzeichen sein.", messages[0].GetString());
            }
        }

        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscriptions"));
    }

    [Fact]
    public async Task A_confirmed_subscriptions_attribution_is_not_rewritten_by_a_later_signup()
    {
        await Client.PostAsJsonAsync("/api/subscriptions", new Dictionary<string, object>
            { ["email"] = "kept@example.org", ["consent"] = true, ["utm_source"] = "newsletter" });
        var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync("kept@example.org"));
        await Client.PostAsync(ConfirmationMailTests.ConfirmationLink(mail).PathAndQuery, null);

        await Client.PostAsJsonAsync("/api/subscriptions", new Dictionary<string, object>
            { ["email"] = "kept@example.org", ["consent"] = true, ["utm_source"] = "stranger" });

        Assert.Equal("newsletter", await Scalar<string>("SELECT utm_source FROM subscriptions"));
        // the ledger records what the repeat signup said
        Assert.Equal("stranger", await Scalar<string>("SELECT utm_source FROM subscription_events WHERE type = 'signup' ORDER BY id DESC LIMIT 1"));
    }

    [Fact]
    public async Task Webhook_events_carry_the_attribution_and_an_erasure_blanks_it_in_the_ledger()
    {
        using var admin = AdminClient();
        await WebhookAdmin.RegisterAsync(admin, receivers.Receiver, "attributed");

        await Client.PostAsJsonAsync("/api/subscriptions", new
        {
            email = "hook@example.org", consent = true, source = "https://news.example/?utm_source=mastodon&utm_medium=social&utm_campaign=fediverse",
        });
        var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync("hook@example.org"));
        await Client.PostAsync(ConfirmationMailTests.ConfirmationLink(mail).PathAndQuery, null);
        var received = await receivers.Receiver.WaitAsync("attributed", r => r.Count(x => x.Verified && x.Answered == 200) == 2);

        Assert.Equal(["subscription.created", "subscription.confirmed"], received.Select(r => r.Type));
        foreach (var consent in received.Select(r => r.Data.GetProperty("consent")))
        {
            Assert.Equal("mastodon", consent.GetProperty("utmSource").GetString());
            Assert.Equal("social", consent.GetProperty("utmMedium").GetString());
            Assert.Equal("fediverse", consent.GetProperty("utmCampaign").GetString());
        }

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/admin/subscribers/hook@example.org")).StatusCode);
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE utm_source IS NOT NULL OR utm_medium IS NOT NULL OR utm_campaign IS NOT NULL"));
    }

    [Fact]
    public async Task The_framed_form_posts_the_utm_values_of_its_own_url_as_hidden_fields()
    {
        var page = await Client.GetStringAsync("/embed/form?list=news&utm_source=partner&utm_campaign=%3Cb%3Ebold%3C%2Fb%3E&utm_medium=%00");

        Assert.Contains("""<input type="hidden" name="utm_source" value="partner">""", page);
        Assert.Contains("""<input type="hidden" name="utm_campaign" value="&lt;b&gt;bold&lt;/b&gt;">""", page);
        Assert.DoesNotContain("utm_medium", page);
    }
}
