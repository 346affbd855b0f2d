using System.Globalization;
using System.Resources;
using System.Text.Json;
using Microsoft.Playwright;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Tests.Confirmation;
using static Microsoft.Playwright.Assertions;

namespace Subscriptions.Api.Tests.Embed;

/// <summary>
/// The same reader in English, German and Spanish: a news site in that language with the snippet,
/// a browser in that language. With JavaScript: a refused address, then the inline success. Without:
/// the error page, the thank-you page, an unknown link, then confirmation and unsubscribe.
/// Every page must speak the reader's language; screenshots are named by language and step.
/// </summary>
public sealed partial class BrowserTests
{
    static readonly ResourceManager Resources = new("Subscriptions.Api.Localization.Texts", typeof(Texts).Assembly);

    /// <summary>The service's text for a key in a language, as the .resx files have it.</summary>
    static string Text(string language, string key, params object[] values) =>
        string.Format(CultureInfo.GetCultureInfo(language), Resources.GetString(key, CultureInfo.GetCultureInfo(language))!, values);

    /// <summary>What the news site itself says around the snippet, in its own language.</summary>
    static readonly Dictionary<string, (string Heading, string Email, string Consent, string Button)> SiteWords = new()
    {
        ["en"] = ("The Daily Example", "Email", "By submitting this form, I agree to the terms", "Sign up to receive our latest news"),
        ["de"] = ("Das Tägliche Beispiel", "E-Mail", "Mit dem Absenden dieses Formulars stimme ich den Bedingungen zu", "Anmelden und unsere neuesten Nachrichten erhalten"),
        ["es"] = ("El Ejemplo Diario", "Correo electrónico", "Al enviar este formulario, acepto las condiciones", "Suscríbete para recibir nuestras últimas noticias"),
    };

    string NewsSitePage(string lang)
    {
        var words = SiteWords[lang];
        return $"""
            <!doctype html>
            <html lang="{lang}">
            <head><meta charset="utf-8"><title>{words.Heading}</title></head>
            <body>
            <h1>{words.Heading}</h1>
            <form method="post" action="{_service.BaseAddress}api/subscriptions" data-subscriptions-form>
              <input type="hidden" name="list" value="news">
              <label>{words.Email} <input type="email" name="email" required autocomplete="email"></label>
              <label><input type="checkbox" name="consent" value="on" required> {words.Consent}</label>
              <div hidden aria-hidden="true"><input name="website" tabindex="-1" autocomplete="off"></div>
              <button>{words.Button}</button>
              <p data-subscriptions-message role="status" aria-live="polite"></p>
            </form>
            <script src="{_service.BaseAddress}embed/subscribe.js?lang={lang}" defer></script>
            </body>
            </html>
            """;
    }

    async Task<IPage> OnNewsSite(string lang, bool javaScript)
    {
        var context = await _browser.NewContextAsync(new() { JavaScriptEnabled = javaScript, Locale = lang });
        var page = await context.NewPageAsync();
        await page.GotoAsync($"{NewsSite}/in/{lang}");
        return page;
    }

    static async Task SubmitOnNewsSite(IPage page, string lang, string email)
    {
        var words = SiteWords[lang];
        await page.GetByLabel(words.Email).FillAsync(email);
        await page.GetByLabel(words.Consent).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = words.Button }).ClickAsync();
    }

    Task Shot(IPage page, string lang, string step) =>
        page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, $"{lang}-{step}.png"), FullPage = true });

    static async Task ExpectPage(IPage page, string lang, string heading)
    {
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync(heading);
        await Expect(page.Locator("html")).ToHaveAttributeAsync("lang", lang);
    }

    [Theory]
    [InlineData("en")]
    [InlineData("de")]
    [InlineData("es")]
    public async Task With_javascript_a_refused_address_and_the_success_show_inline_in_the_readers_language(string lang)
    {
        var page = await OnNewsSite(lang, javaScript: true);

        await SubmitOnNewsSite(page, lang, "a@b");
        await Expect(page.Locator("[data-subscriptions-field-error]")).ToHaveTextAsync(Text(lang, "EmailInvalid"));
        await Expect(page.Locator("[data-subscriptions-message]")).ToHaveTextAsync(Text(lang, "FormErrorsTitle"));
        await Expect(page.GetByLabel(SiteWords[lang].Email)).ToBeFocusedAsync();
        await Shot(page, lang, "1-inline-error");

        await SubmitOnNewsSite(page, lang, $"inline-{lang}@example.org");
        await Expect(page.Locator("[data-subscriptions-message]")).ToHaveTextAsync(Text(lang, "SignupAccepted"));
        await Shot(page, lang, "2-inline-success");
        Assert.Equal(lang, await Scalar<string>("SELECT locale FROM outbox WHERE kind = 'confirmation'"));
    }

    [Theory]
    [InlineData("en")]
    [InlineData("de")]
    [InlineData("es")]
    public async Task Without_javascript_errors_thanks_confirmation_and_unsubscribe_are_pages_in_the_readers_language(string lang)
    {
        var page = await OnNewsSite(lang, javaScript: false);
        var email = $"reader-{lang}@example.org";

        // the browser's own check takes a@b; the service refuses it with a page that lists why
        await SubmitOnNewsSite(page, lang, "a@b");
        await ExpectPage(page, lang, Text(lang, "FormErrorsTitle"));
        await Expect(page.Locator("ul.errors li")).ToHaveTextAsync(Text(lang, "EmailInvalid"));
        await Shot(page, lang, "3-error-page");

        await page.GotoAsync($"{NewsSite}/in/{lang}");
        await SubmitOnNewsSite(page, lang, email);
        var list = Text(lang, "Quote", "News");
        await ExpectPage(page, lang, Text(lang, "CheckInboxTitle"));
        await Expect(page.Locator("main p")).ToHaveTextAsync(Text(lang, "CheckInbox", list));
        await Shot(page, lang, "4-thank-you");

        await page.GotoAsync($"{_service.BaseAddress}confirm/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        await ExpectPage(page, lang, Text(lang, "UnknownLinkTitle"));
        await Shot(page, lang, "5-unknown-link");

        var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync(email));
        Assert.Equal(Text(lang, "MailConfirmSubject", "News"), mail.Subject);
        await page.GotoAsync(ConfirmationMailTests.ConfirmationLink(mail).AbsoluteUri);
        await ExpectPage(page, lang, Text(lang, "ConfirmTitle"));
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = Text(lang, "ConfirmButton") })).ToBeFocusedAsync();
        await Shot(page, lang, "6-confirm");
        await page.GetByRole(AriaRole.Button, new() { Name = Text(lang, "ConfirmButton") }).ClickAsync();
        await ExpectPage(page, lang, Text(lang, "ConfirmedTitle"));
        await Expect(page.Locator("main p")).ToHaveTextAsync(Text(lang, "Confirmed", list));
        await Shot(page, lang, "7-confirmed");

        await page.GotoAsync(await UnsubscribeUrl(email));
        await ExpectPage(page, lang, Text(lang, "UnsubscribeTitle"));
        await Shot(page, lang, "8-unsubscribe");
        await page.GetByRole(AriaRole.Button, new() { Name = Text(lang, "UnsubscribeButton") }).ClickAsync();
        await ExpectPage(page, lang, Text(lang, "UnsubscribedTitle"));
        await Shot(page, lang, "9-unsubscribed");
        Assert.Equal("unsubscribed", await Scalar<string>("SELECT status FROM subscriptions"));
    }

    async Task<string> UnsubscribeUrl(string email)
    {
        using var admin = AdminClient();
        var rows = (await admin.GetStringAsync("/api/admin/export?format=ndjson")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var row = rows.Select(r => JsonDocument.Parse(r).RootElement).Single(r => r.GetProperty("email").GetString() == email);
        return row.GetProperty("unsubscribe_url").GetString()!;
    }
}
