using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MimeKit;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Localization;

/// <summary>A list's own name and consent text, or their translation into the reader's language, on the form, the pages and in the mails.</summary>
public class ListWordingTests(ApiFixture fixture) : ApiTest(fixture)
{
    const string Consent = "I agree to the sport terms.";
    const string GermanName = "Sportnachrichten";
    const string GermanConsent = "Ich bin mit den Bedingungen der Sportnachrichten einverstanden.";

    async Task CreateSport(string defaultLocale = "en", bool welcome = false, string germanName = GermanName, string germanConsent = GermanConsent)
    {
        using var admin = AdminClient();
        var translations = new Dictionary<string, object> { ["de"] = new { name = germanName, consentText = germanConsent } };
        if (defaultLocale.StartsWith("de", StringComparison.Ordinal))
        {
            // the list's own wording is German: English is the translation
            translations = new() { ["en"] = new { name = "Sport", consentText = Consent } };
        }

        var created = await admin.PostAsJsonAsync("/api/admin/lists", new
        {
            slug = "sport",
            name = defaultLocale.StartsWith("de", StringComparison.Ordinal) ? germanName : "Sport",
            consentText = defaultLocale.StartsWith("de", StringComparison.Ordinal) ? germanConsent : Consent,
            consentTextVersion = "v1",
            defaultLocale,
            welcome,
            translations,
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }

    async Task<string> Page(string path, string? acceptLanguage)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (acceptLanguage is not null)
        {
            request.Headers.AcceptLanguage.ParseAdd(acceptLanguage);
        }

        var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadAsStringAsync();
    }

    async Task<MimeMessage> SignUpAndReceive(string email, string? acceptLanguage)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/subscriptions")
        {
            Content = JsonContent.Create(new { email, consent = true, lists = new[] { "sport" } }),
        };
        if (acceptLanguage is not null)
        {
            request.Headers.AcceptLanguage.ParseAdd(acceptLanguage);
        }

        Assert.Equal(HttpStatusCode.Accepted, (await Client.SendAsync(request)).StatusCode);
        return Assert.Single(await Fixture.Mail.WaitForMailToAsync(email));
    }

    Task<string> RecordedLanguage() => Scalar<string>("SELECT consent_text_language FROM subscription_events WHERE type = 'signup'");

    [Fact]
    public async Task A_German_reader_sees_the_German_name_and_consent_text_in_the_embedded_form()
    {
        await CreateSport();

        var html = WebUtility.HtmlDecode(await Page("/embed/form?list=sport", "de-DE,de;q=0.9,en;q=0.8"));

        Assert.Contains("<html lang=\"de\">", html);
        Assert.Contains(GermanName, html);
        Assert.Contains($"<label for=\"consent\">{GermanConsent}</label>", html);
        Assert.DoesNotContain(Consent, html);
    }

    [Theory]
    [InlineData("fr")]
    [InlineData("en-GB")]
    [InlineData(null)]
    public async Task A_reader_whose_language_has_no_translation_sees_the_lists_own_wording_in_the_embedded_form(string? acceptLanguage)
    {
        await CreateSport();

        var html = WebUtility.HtmlDecode(await Page("/embed/form?list=sport", acceptLanguage));

        Assert.Contains($"<label for=\"consent\">{Consent}</label>", html);
        Assert.DoesNotContain(GermanName, html);
    }

    [Fact]
    public async Task A_reader_in_a_language_the_service_does_not_speak_gets_the_form_in_the_lists_language_and_the_evidence_agrees()
    {
        // German list with an English translation; the reader reads Japanese: the form and the signup both fall to the list's German
        await CreateSport(defaultLocale: "de-DE");

        var html = WebUtility.HtmlDecode(await Page("/embed/form?list=sport", "ja"));
        Assert.Contains("<html lang=\"de\">", html);
        Assert.Contains($"<label for=\"consent\">{GermanConsent}</label>", html);
        // every word of the form, not only the list's, and the script it loads, are in that language
        Assert.Contains($"<title>Melden Sie sich für {GermanName} an</title>", html);
        Assert.Contains("<label for=\"email\">E-Mail-Adresse</label>", html);
        Assert.Contains(">Anmelden</button>", html);
        Assert.Contains("/embed/subscribe.js?lang=de", html);

        var mail = await SignUpAndReceive("dokusha@example.org", "ja");
        Assert.Equal("de", await RecordedLanguage());
        Assert.Contains(GermanName, mail.Subject);
    }

    [Fact]
    public async Task A_German_reader_gets_mails_and_pages_that_name_the_list_in_German_and_the_ledger_records_de()
    {
        await CreateSport(welcome: true);

        var mail = await SignUpAndReceive("leser@example.org", "de");

        Assert.Equal("de", await RecordedLanguage());
        Assert.Equal($"Bitte bestätigen Sie Ihr Abonnement: {GermanName}", mail.Subject);
        Assert.Contains(GermanName, mail.TextBody);
        Assert.Contains(GermanName, mail.HtmlBody);
        Assert.Contains($"„{GermanName}“", WebUtility.HtmlDecode(await Page("/signup/thank-you?list=sport", "de")));

        var link = ConfirmationMailTests.ConfirmationLink(mail);
        Assert.Contains($"„{GermanName}“", WebUtility.HtmlDecode(await Page(link.PathAndQuery, "de")));
        using (var confirm = new HttpRequestMessage(HttpMethod.Post, link.PathAndQuery))
        {
            Assert.Equal(HttpStatusCode.SeeOther, (await Client.SendAsync(confirm)).StatusCode);
        }

        Assert.Contains($"„{GermanName}“", WebUtility.HtmlDecode(await Page("/signup/confirmed?list=sport", "de")));
        var welcome = (await Fixture.Mail.WaitForMailToAsync("leser@example.org", count: 2))[1];
        Assert.Equal($"Willkommen bei {GermanName}", welcome.Subject);

        using var admin = AdminClient();
        var export = JsonDocument.Parse(await admin.GetStringAsync("/api/admin/export?format=ndjson")).RootElement;
        var unsubscribe = new Uri(export.GetProperty("unsubscribe_url").GetString()!);
        Assert.Contains($"„{GermanName}“", WebUtility.HtmlDecode(await Page(unsubscribe.PathAndQuery, "de")));
        Assert.Contains("“Sport”", WebUtility.HtmlDecode(await Page(unsubscribe.PathAndQuery, "en")));
    }

    [Fact]
    public async Task A_French_reader_gets_the_lists_own_name_in_the_mail_and_the_ledger_records_its_language()
    {
        await CreateSport();

        var mail = await SignUpAndReceive("lecteur@example.org", "fr");

        Assert.Equal("en", await RecordedLanguage());
        Assert.Contains("Sport", mail.Subject);
        Assert.DoesNotContain(GermanName, mail.Subject + mail.TextBody + mail.HtmlBody);
        Assert.Contains("lang=\"fr\"", mail.HtmlBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_translation_that_looks_like_markup_is_shown_as_text_on_the_form_and_in_the_mail()
    {
        await CreateSport(germanName: "Sport <b>live</b> & mehr", germanConsent: "<script>alert(1)</script> Ich stimme zu.");

        var html = await Page("/embed/form?list=sport", "de");
        var mail = await SignUpAndReceive("leser@example.org", "de");

        Assert.Contains("Sport &lt;b&gt;live&lt;/b&gt; &amp; mehr", html);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt; Ich stimme zu.", html);
        Assert.DoesNotContain("<b>", html);
        Assert.DoesNotContain("<script>alert", html);
        Assert.Contains("Sport &lt;b&gt;live&lt;/b&gt; &amp; mehr", mail.HtmlBody);
        Assert.DoesNotContain("<b>", mail.HtmlBody);
    }
}
