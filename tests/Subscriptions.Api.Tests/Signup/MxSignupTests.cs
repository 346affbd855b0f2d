using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Signup;

/// <summary>Signup__CheckMx through the running service, pointed at a DNS server the test runs.</summary>
public sealed class MxSignupTests(ApiFixture fixture) : ApiTest(fixture), IDisposable
{
    const string Endpoint = "/api/subscriptions";

    readonly DnsTestServer _dns = new DnsTestServer()
        .Mx("mx.dns-test.example", "mail.dns-test.example")
        .A("a-only.dns-test.example")
        .Add("nothing.dns-test.example");

    SubscriptionsApp StartApp(string dnsServer, string timeout = "00:00:01.5") =>
        Fixture.StartApp(("Signup:CheckMx", "true"), ("Signup:DnsServers:0", dnsServer), ("Signup:MxTimeout", timeout));

    [Theory]
    [InlineData("ann@mx.dns-test.example")]
    [InlineData("ann@a-only.dns-test.example")]
    public async Task A_domain_with_MX_or_only_an_address_is_signed_up(string email)
    {
        await using var app = StartApp(_dns.Address);
        using var client = app.CreateHttpClient();

        var response = await client.PostAsJsonAsync(Endpoint, new { email, consent = true });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await Fixture.Mail.WaitForMailToAsync(email);
    }

    [Theory]
    [InlineData("ann@nothing.dns-test.example", null, "The domain of this address cannot receive email. Check it for typos.")]
    [InlineData("ann@gone.dns-test.example", "it", "Il dominio di questo indirizzo non può ricevere e-mail. Controlla che sia scritto correttamente.")]
    [InlineData("ann@gone.dns-test.example", "nl", "Het domein van dit adres kan geen e-mail ontvangen. Controleer het op typefouten.")]
    [InlineData("ann@gone.dns-test.example", "pt-BR", "O domínio deste endereço não pode receber e-mails. Verifique se está escrito corretamente.")]
    public async Task A_domain_with_nothing_is_refused_on_the_email_field_and_nothing_is_stored(string email, string? locale, string message)
    {
        await using var app = StartApp(_dns.Address);
        using var client = app.CreateHttpClient();
        using var signups = new MetricCollector<long>(app.Services.GetRequiredService<IMeterFactory>(), SubscriptionsMetrics.MeterName, "subscriptions.signups");

        var response = await client.PostAsJsonAsync(Endpoint, new { email, consent = true, locale });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(message, Assert.Single(problem.GetProperty("errors").GetProperty("email").EnumerateArray()).GetString());
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscribers"));
        Assert.Equal(1, signups.GetMeasurementSnapshot().Count(m => (string?)m.Tags["outcome"] == "no_mail_domain"));
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_form_post_at_a_domain_with_nothing_gets_the_hosted_page_with_the_message()
    {
        await using var app = StartApp(_dns.Address);
        using var client = app.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, Endpoint)
        {
            Content = new FormUrlEncodedContent([KeyValuePair.Create("email", "ann@nothing.dns-test.example"), KeyValuePair.Create("consent", "on")]),
        };
        request.Headers.AcceptLanguage.ParseAdd("de");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Die Domain dieser Adresse kann keine E-Mails empfangen.", WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync()),
            StringComparison.Ordinal);
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscribers"));
    }

    [Fact]
    public async Task A_resolver_that_never_answers_does_not_refuse_and_the_signup_waits_no_longer_than_the_budget()
    {
        using var silent = new SilentDnsServer();
        await using var app = StartApp(silent.Address, timeout: "00:00:00.5");
        using var client = app.CreateHttpClient();
        await client.GetAsync("/health/live"); // the first request pays for start-up, not the signup

        var clock = Stopwatch.StartNew();
        var response = await client.PostAsJsonAsync(Endpoint, new { email = "ann@nothing.dns-test.example", consent = true });
        var elapsed = clock.Elapsed;

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.True(elapsed < TimeSpan.FromSeconds(2), $"{elapsed}"); // 0.5 s of budget, the rest the loaded machine's
        Assert.Equal("pending", await Scalar<string>("SELECT status FROM subscriptions"));
        Assert.Contains(app.Logs.GetSnapshot(), r => r.Message.Contains("fail open", StringComparison.Ordinal) && !r.Message.Contains("dns-test", StringComparison.Ordinal));
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task The_second_signup_at_a_domain_asks_DNS_nothing()
    {
        await using var app = StartApp(_dns.Address);
        using var client = app.CreateHttpClient();

        await client.PostAsJsonAsync(Endpoint, new { email = "ann@mx.dns-test.example", consent = true });
        var asked = _dns.QueriesFor("mx.dns-test.example");
        await client.PostAsJsonAsync(Endpoint, new { email = "bob@mx.dns-test.example", consent = true });
        await client.PostAsJsonAsync(Endpoint, new { email = "ann@nothing.dns-test.example", consent = true });
        var askedNothing = _dns.QueriesFor("nothing.dns-test.example");
        var refusedAgain = await client.PostAsJsonAsync(Endpoint, new { email = "bob@nothing.dns-test.example", consent = true });

        Assert.Equal(1, asked);
        Assert.Equal(asked, _dns.QueriesFor("mx.dns-test.example"));
        Assert.Equal(HttpStatusCode.BadRequest, refusedAgain.StatusCode);
        Assert.Equal(askedNothing, _dns.QueriesFor("nothing.dns-test.example"));
    }

    [Theory]
    [InlineData("{\"email\":\"ann@nothing.dns-test.example\",\"consent\":false}")]
    [InlineData("{\"email\":\"ann@nothing.dns-test.example\u0000\",\"consent\":true}")]
    [InlineData("{\"email\":\"ann@-bad-.dns-test.example\",\"consent\":true}")]
    [InlineData("{\"email\":42,\"consent\":true}")]
    [InlineData("{\"email\":\"ann@nothing.dns-test.example\"")]
    public async Task Hostile_input_with_the_check_on_gets_a_4xx_and_stores_nothing(string body)
    {
        await using var app = StartApp(_dns.Address);
        using var client = app.CreateHttpClient();

        var response = await client.PostAsync(Endpoint, new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.InRange((int)response.StatusCode, 400, 499);
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscribers"));
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Off_by_default_no_DNS_is_asked()
    {
        var response = await Client.PostAsJsonAsync(Endpoint, new { email = "ann@nothing.dns-test.example", consent = true });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Empty(_dns.Queries);
    }

    public void Dispose() => _dns.Dispose();
}
