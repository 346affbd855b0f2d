using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Tests.Infrastructure;
using Subscriptions.Api.Tests.Webhooks;

namespace Subscriptions.Api.Tests.Signup;

/// <summary>Signup__DisposableDomains: Allow (the default), Refuse and Hold, through the running service.</summary>
public sealed class DisposableSignupTests(ApiFixture fixture, ReceiverFixture receivers) : ApiTest(fixture), IClassFixture<ReceiverFixture>
{
    const string Endpoint = "/api/subscriptions";

    static MetricCollector<long> Signups(SubscriptionsApp app) =>
        new(app.Services.GetRequiredService<IMeterFactory>(), SubscriptionsMetrics.MeterName, "subscriptions.signups");

    static int Counted(MetricCollector<long> signups, string outcome) =>
        signups.GetMeasurementSnapshot().Count(m => (string?)m.Tags["outcome"] == outcome);

    static Task<HttpResponseMessage> PostForm(HttpClient client, params (string Key, string Value)[] fields) =>
        client.PostAsync(Endpoint, new FormUrlEncodedContent(fields.Select(f => KeyValuePair.Create(f.Key, f.Value))));

    Task<long> Rows(string table) => Scalar<long>($"SELECT count(*) FROM {table}");

    [Fact]
    public async Task By_default_a_disposable_address_signs_up_like_any_other()
    {
        var response = await Client.PostAsJsonAsync(Endpoint, new { email = "ann@mailinator.com", consent = true });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await Fixture.Mail.WaitForMailToAsync("ann@mailinator.com");
        Assert.Equal("pending", await Scalar<string>("SELECT status FROM subscriptions"));
    }

    [Theory]
    [InlineData("ann@mailinator.com", null, "This address is at a disposable (throwaway) mail service. Please use an address you will keep.")]
    [InlineData("Ann@Trash.Mailinator.COM", "de", "Diese Adresse gehört zu einem Wegwerf-E-Mail-Dienst. Bitte verwenden Sie eine Adresse, die Sie behalten.")]
    [InlineData("ann@yopmail.com", "pl-PL", "Ten adres należy do usługi jednorazowej poczty e-mail. Podaj adres, którego będziesz dalej używać.")]
    [InlineData("ann@wegwerf.example", "fr", "Cette adresse appartient à un service de messagerie jetable. Utilisez une adresse que vous conserverez.")]
    public async Task Refuse_answers_json_with_the_message_on_the_email_field_in_the_readers_language_and_stores_nothing(
        string email, string? locale, string message)
    {
        await using var app = Fixture.StartApp(("Signup:DisposableDomains", "Refuse"), ("Signup:MoreDisposableDomains:0", "wegwerf.example"));
        using var client = app.CreateHttpClient();
        using var signups = Signups(app);

        var response = await client.PostAsJsonAsync(Endpoint, new { email, consent = true, locale });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(message, Assert.Single(problem.GetProperty("errors").GetProperty("email").EnumerateArray()).GetString());
        Assert.Equal(0, await Rows("subscribers"));
        Assert.Equal(0, await Rows("outbox"));
        Assert.Equal(1, Counted(signups, "disposable"));
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Refuse_shows_a_form_post_the_hosted_page_with_the_message()
    {
        await using var app = Fixture.StartApp(("Signup:DisposableDomains", "Refuse"));
        using var client = app.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, Endpoint)
        {
            Content = new FormUrlEncodedContent([KeyValuePair.Create("email", "ann@mailinator.com"), KeyValuePair.Create("consent", "on")]),
        };
        request.Headers.Accept.ParseAdd("text/html");
        request.Headers.AcceptLanguage.ParseAdd("es");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var page = WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync());
        Assert.Contains("Esta dirección es de un servicio de correo desechable.", page, StringComparison.Ordinal);
        Assert.Equal(0, await Rows("subscribers"));
    }

    [Fact]
    public async Task The_operators_exceptions_let_a_listed_domain_sign_up()
    {
        await using var app = Fixture.StartApp(("Signup:DisposableDomains", "Refuse"), ("Signup:NotDisposableDomains:0", "mailinator.com"));
        using var client = app.CreateHttpClient();

        var response = await client.PostAsJsonAsync(Endpoint, new { email = "ann@mailinator.com", consent = true });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("pending", await Scalar<string>("SELECT status FROM subscriptions"));
    }

    public static TheoryData<string> HostileBodies() => new()
    {
        "{\"email\":\"ann@mailinator.com\u0000\",\"consent\":true}",
        "{\"email\":\"ann@mailinator.com\\r\\nBcc: b@example.com\",\"consent\":true}",
        "{\"email\":\"ann@mailinator.com\",\"consent\":\"yes please\"}",
        "{\"email\":[\"ann@mailinator.com\"],\"consent\":true}",
        "{\"email\":\"ann@mailinator.com\",\"consent\":true",
        "{\"email\":\"ann@" + new string('a', 70) + ".mailinator.com\",\"consent\":true}",
        "{\"email\":\"ann@" + string.Join('.', Enumerable.Repeat("a", 2_000)) + ".mailinator.com\",\"consent\":true}",
        "{\"email\":\"ann@mailinator.com\",\"consent\":false}",
        "{\"email\":\"ann@mailinаtor.com\",\"consent\":true}", // a Cyrillic а
    };

    [Theory]
    [MemberData(nameof(HostileBodies))]
    public async Task Hostile_json_at_a_disposable_domain_gets_a_4xx_problem_and_stores_nothing(string body)
    {
        foreach (var policy in new[] { "Refuse", "Hold" })
        {
            await using var app = Fixture.StartApp(("Signup:DisposableDomains", policy));
            using var client = app.CreateHttpClient();

            var response = await client.PostAsync(Endpoint, new StringContent(body, Encoding.UTF8, "application/json"));

            Assert.InRange((int)response.StatusCode, 400, 499);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(0, await Rows("subscribers"));
            app.AssertNoErrorsLogged();
        }
    }

    [Theory]
    [InlineData("email=ann%40mailinator.com%00&consent=on")]
    [InlineData("email=ann%40mailinator.com&email=bob%40example.com&consent=on")]
    [InlineData("email=ann%40mail%FFinator.com&consent=on")]
    [InlineData("email=ann%40mailinator.com")]
    [InlineData("email=ann%40mailinator.com&consent=on&list=%3Cscript%3E")]
    public async Task Hostile_forms_at_a_disposable_domain_get_the_page_or_a_problem_and_store_nothing(string body)
    {
        await using var app = Fixture.StartApp(("Signup:DisposableDomains", "Refuse"));
        using var client = app.CreateHttpClient();
        using var content = new ByteArrayContent(Encoding.ASCII.GetBytes(body));
        content.Headers.ContentType = new("application/x-www-form-urlencoded");

        var response = await client.PostAsync(Endpoint, content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(0, await Rows("subscribers"));
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_form_in_another_charset_is_refused_before_the_domain_is_looked_at()
    {
        await using var app = Fixture.StartApp(("Signup:DisposableDomains", "Refuse"));
        using var client = app.CreateHttpClient();
        using var content = new ByteArrayContent(Encoding.Latin1.GetBytes("email=ann%40mailinator.com&consent=on&name=M%FCller"));
        content.Headers.ContentType = new("application/x-www-form-urlencoded") { CharSet = "iso-8859-1" };

        var response = await client.PostAsync(Endpoint, content);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal(0, await Rows("subscribers"));
    }

    [Fact]
    public async Task Hold_answers_exactly_as_an_accepted_signup_stores_it_held_and_sends_nothing()
    {
        await using var app = Fixture.StartApp(("Signup:DisposableDomains", "Hold"));
        using var client = app.CreateHttpClient();
        using var signups = Signups(app);

        var accepted = await client.PostAsJsonAsync(Endpoint, new { email = "bob@example.org", consent = true });
        var held = await client.PostAsJsonAsync(Endpoint, new { email = "ann@mailinator.com", consent = true });
        var acceptedForm = await PostForm(client, ("email", "carl@example.org"), ("consent", "on"));
        var heldForm = await PostForm(client, ("email", "dora@yopmail.com"), ("consent", "on"));

        Assert.Equal(accepted.StatusCode, held.StatusCode);
        Assert.Equal(await accepted.Content.ReadAsStringAsync(), await held.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.SeeOther, heldForm.StatusCode);
        Assert.Equal(acceptedForm.Headers.Location, heldForm.Headers.Location);

        await Fixture.Mail.WaitForMailToAsync("carl@example.org");
        await Fixture.Mail.WaitForMailToAsync("bob@example.org");
        Assert.Equal(["bob@example.org", "carl@example.org"], (await Fixture.Mail.RecipientsAsync()).Order());
        Assert.Equal(2, await Scalar<long>("SELECT count(*) FROM subscriptions WHERE status = 'held'"));
        Assert.Equal(0, await Scalar<long>("""
            SELECT count(*) FROM outbox o JOIN subscriptions sub ON sub.id = o.subscription_id WHERE sub.status = 'held'
            """));
        // the consent evidence is kept as for any signup
        Assert.Equal(2, await Scalar<long>("""
            SELECT count(*) FROM subscription_events e JOIN subscriptions sub ON sub.id = e.subscription_id
            WHERE sub.status = 'held' AND e.type = 'signup' AND sub.consent_ip IS NOT NULL
            """));
        Assert.Equal(2, Counted(signups, "held"));
        Assert.Equal(2, Counted(signups, "accepted"));

        using var admin = AdminClient();
        var stats = await admin.GetFromJsonAsync<JsonElement>("/api/admin/stats");
        var news = Assert.Single(stats.GetProperty("lists").EnumerateArray());
        Assert.Equal(2, news.GetProperty("held").GetInt64());
        Assert.Equal(2, news.GetProperty("pending").GetInt64());
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_held_signup_is_not_reminded_not_confirmable_and_not_exported_unless_asked_for()
    {
        await using var app = Fixture.StartApp(("Signup:DisposableDomains", "Hold"));
        using var client = app.CreateHttpClient();
        await client.PostAsJsonAsync(Endpoint, new { email = "ann@mailinator.com", consent = true });
        await client.PostAsJsonAsync(Endpoint, new { email = "bob@example.org", consent = true });
        await Fixture.Mail.WaitForMailToAsync("bob@example.org");

        using var admin = AdminClient();
        var all = await admin.GetStringAsync("/api/admin/export?format=ndjson");
        var onlyHeld = await admin.GetStringAsync("/api/admin/export?format=ndjson&status=held");

        Assert.DoesNotContain("mailinator", all, StringComparison.Ordinal);
        Assert.Contains("bob@example.org", all, StringComparison.Ordinal);
        var row = JsonDocument.Parse(Assert.Single(onlyHeld.Split('\n', StringSplitOptions.RemoveEmptyEntries))).RootElement;
        Assert.Equal("ann@mailinator.com", row.GetProperty("email").GetString());
        Assert.Equal("held", row.GetProperty("status").GetString());
        // no link was ever minted for it: there is nothing to confirm with
        Assert.Equal(0, await Scalar<long>("""
            SELECT count(*) FROM tokens t JOIN subscriptions sub ON sub.id = t.subscription_id WHERE sub.status = 'held'
            """));
    }

    [Fact]
    public async Task A_later_signup_of_a_held_address_stays_held_until_the_policy_lets_it_through()
    {
        await using (var hold = Fixture.StartApp(("Signup:DisposableDomains", "Hold")))
        {
            using var client = hold.CreateHttpClient();
            await client.PostAsJsonAsync(Endpoint, new { email = "ann@mailinator.com", consent = true });
            var again = await client.PostAsJsonAsync(Endpoint, new { email = "ann@mailinator.com", consent = true, name = "Ann" });

            Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
            Assert.Equal("held", await Scalar<string>("SELECT status FROM subscriptions"));
            Assert.Equal(0, await Rows("outbox"));
        }

        // the operator allows disposable domains again: the next signup is an ordinary pending one, mailed as usual
        var allowed = await Client.PostAsJsonAsync(Endpoint, new { email = "ann@mailinator.com", consent = true });

        Assert.Equal(HttpStatusCode.Accepted, allowed.StatusCode);
        await Fixture.Mail.WaitForMailToAsync("ann@mailinator.com");
        Assert.Equal("pending", await Scalar<string>("SELECT status FROM subscriptions"));
    }

    [Fact]
    public async Task A_confirmed_address_signing_up_again_under_Hold_stays_confirmed()
    {
        await Client.PostAsJsonAsync(Endpoint, new { email = "ann@mailinator.com", consent = true });
        await Fixture.Mail.WaitForMailToAsync("ann@mailinator.com");
        await Execute("UPDATE subscriptions SET status = 'confirmed', confirmed_at = now()");
        await using var app = Fixture.StartApp(("Signup:DisposableDomains", "Hold"));
        using var client = app.CreateHttpClient();

        var again = await client.PostAsJsonAsync(Endpoint, new { email = "ann@mailinator.com", consent = true });

        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Equal("confirmed", await Scalar<string>("SELECT status FROM subscriptions"));
    }

    [Fact]
    public async Task A_held_signup_tells_no_webhook_and_its_release_does()
    {
        using var admin = AdminClient();
        await WebhookAdmin.RegisterAsync(admin, receivers.Receiver, "held");
        await using (var hold = Fixture.StartApp(("Signup:DisposableDomains", "Hold")))
        {
            using var client = hold.CreateHttpClient();
            await client.PostAsJsonAsync(Endpoint, new { email = "ann@mailinator.com", consent = true });
            await client.PostAsJsonAsync(Endpoint, new { email = "bob@example.org", consent = true });
        }

        await Client.PostAsJsonAsync(Endpoint, new { email = "ann@mailinator.com", consent = true }); // allowed now

        var received = await receivers.Receiver.WaitAsync("held", r => r.Count == 2);
        await Task.Delay(500); // nothing more should come
        received = await receivers.Receiver.ReceivedAsync("held");
        // one event each (events of different subscribers may arrive in either order)
        Assert.Equal(["ann@mailinator.com", "bob@example.org"], received.Select(r => r.Data.GetProperty("email").GetString()).Order());
        Assert.All(received, r => Assert.Equal("pending", r.Data.GetProperty("status").GetString()));
    }

    [Fact]
    public async Task Held_signups_are_purged_with_the_pending_ones()
    {
        await using var app = Fixture.StartApp(("Signup:DisposableDomains", "Hold"));
        using var client = app.CreateHttpClient();
        await client.PostAsJsonAsync(Endpoint, new { email = "ann@mailinator.com", consent = true });
        await Execute("UPDATE subscriptions SET consent_at = now() - interval '400 days', created_at = now() - interval '400 days'");

        var purged = await Fixture.App.Services.GetRequiredService<Subscriptions.Api.Data.RetentionJob>().PurgeAsync(CancellationToken.None);

        Assert.NotNull(purged);
        Assert.Equal(0, await Rows("subscriptions"));
        Assert.Equal(0, await Rows("subscribers"));
    }
}
