using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Localization;

/// <summary>A reader who asks for Spanish (or any language we speak) reads Spanish everywhere: errors, answers, the mail, the pages.</summary>
public partial class ReaderLanguageTests(ApiFixture fixture) : ApiTest(fixture)
{
    async Task<HttpResponseMessage> Send(HttpContent body, string acceptLanguage)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/subscriptions") { Content = body };
        request.Headers.AcceptLanguage.ParseAdd(acceptLanguage);
        return await Client.SendAsync(request);
    }

    [Theory]
    [InlineData("es", "Escribe una dirección de correo válida, como nombre@example.com.", "Marca la casilla para aceptar las condiciones.")]
    [InlineData("pl", "Podaj prawidłowy adres e-mail, np. imie@example.com.", "Zaznacz pole, aby zaakceptować warunki.")]
    [InlineData("nl-BE,nl;q=0.9", "Vul een geldig e-mailadres in, bijvoorbeeld naam@example.com.", "Vink het vakje aan om akkoord te gaan met de voorwaarden.")]
    public async Task A_bad_signup_is_explained_in_the_readers_language_to_scripts_and_forms(string acceptLanguage, string email, string consent)
    {
        var json = await Send(JsonContent.Create(new { email = "ana@", consent = false }), acceptLanguage);
        var errors = (await json.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal(HttpStatusCode.BadRequest, json.StatusCode);
        Assert.Equal(email, errors.GetProperty("email")[0].GetString());
        Assert.Equal(consent, errors.GetProperty("consent")[0].GetString());

        var form = await Send(new FormUrlEncodedContent([new("email", "ana@")]), acceptLanguage);
        var page = WebUtility.HtmlDecode(await form.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, form.StatusCode);
        Assert.Contains(email, page);
        Assert.Contains(consent, page);
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscribers"));
    }

    [Fact]
    public async Task The_locale_field_wins_over_the_browser_and_the_answer_the_mail_and_the_pages_follow_it()
    {
        var accepted = await Send(JsonContent.Create(new { email = "ana@example.org", consent = true, locale = "es-MX" }), "de");
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Equal("Gracias. Revisa tu bandeja de entrada: te hemos enviado un correo para confirmar tu suscripción.",
            (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("message").GetString());

        var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync("ana@example.org"));
        Assert.Equal("Confirma tu suscripción: News", mail.Subject);
        Assert.Contains("Confirma que quieres recibir News.", mail.TextBody, StringComparison.Ordinal);
        Assert.Matches(@"El enlace funciona hasta el \w+, \d+ de \w+ de \d{4}\.", mail.TextBody);
        Assert.Contains("lang=\"es\"", mail.HtmlBody, StringComparison.Ordinal);

        // the link carries the mail's language: its pages are Spanish in the German browser that signed up too
        var link = SentLink().Match(mail.TextBody ?? "").Value;
        Assert.EndsWith("?lang=es", link, StringComparison.Ordinal);
        Assert.Contains(link, mail.HtmlBody, StringComparison.Ordinal);
        var page = await Browse(HttpMethod.Get, new Uri(link).PathAndQuery, "de");
        Assert.Contains("<html lang=\"es\">", page);
        Assert.Contains("<h1>Confirma tu suscripción</h1>", page);
        Assert.Contains(">Confirmar</button>", page);

        // the page's button posts back to the same address, and lands on a Spanish page
        using var confirm = new HttpRequestMessage(HttpMethod.Post, new Uri(link).PathAndQuery);
        confirm.Headers.Accept.ParseAdd("text/html");
        confirm.Headers.AcceptLanguage.ParseAdd("de");
        var confirmed = await Client.SendAsync(confirm);
        Assert.Equal(HttpStatusCode.SeeOther, confirmed.StatusCode);
        Assert.Equal("/signup/confirmed?list=news&lang=es", confirmed.Headers.Location?.OriginalString);
        var landing = await Browse(HttpMethod.Get, confirmed.Headers.Location!.OriginalString, "de");
        Assert.Contains("<html lang=\"es\">", landing);
        Assert.Contains("<h1>Suscripción confirmada</h1>", landing);

        // a link without the language (an old mail) opens in the browser's
        Assert.Contains("<html lang=\"de\">", await Browse(HttpMethod.Get, ConfirmationMailTests.ConfirmationLink(mail).PathAndQuery, "de"));
    }

    [Fact]
    public async Task A_form_signup_in_spanish_from_a_german_browser_lands_on_a_spanish_thank_you_page()
    {
        var response = await Send(new FormUrlEncodedContent([new("email", "luis@example.org"), new("consent", "on"), new("locale", "es")]), "de");

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal("/signup/thank-you?list=news&lang=es", response.Headers.Location?.OriginalString);
        var page = await Browse(HttpMethod.Get, response.Headers.Location!.OriginalString, "de");
        Assert.Contains("<html lang=\"es\">", page);
        Assert.Contains("<h1>Revisa tu bandeja de entrada</h1>", page);
    }

    async Task<string> Browse(HttpMethod method, string pathAndQuery, string acceptLanguage)
    {
        using var request = new HttpRequestMessage(method, pathAndQuery);
        request.Headers.Accept.ParseAdd("text/html");
        request.Headers.AcceptLanguage.ParseAdd(acceptLanguage);
        return WebUtility.HtmlDecode(await (await Client.SendAsync(request)).Content.ReadAsStringAsync());
    }

    [GeneratedRegex(@"https?://\S+/confirm/[A-Za-z0-9_-]{43}\?lang=[a-z]{2}")]
    private static partial Regex SentLink();

    [Theory]
    [InlineData("it", "Controlla la tua casella di posta")]
    [InlineData("pt-BR", "Verifique a sua caixa de entrada")]
    [InlineData("pl", "Sprawdź swoją skrzynkę")]
    public async Task Hosted_pages_speak_the_new_languages(string acceptLanguage, string heading)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/signup/thank-you?list=news");
        request.Headers.AcceptLanguage.ParseAdd(acceptLanguage);
        var html = WebUtility.HtmlDecode(await (await Client.SendAsync(request)).Content.ReadAsStringAsync());

        Assert.Contains($"<html lang=\"{acceptLanguage[..2]}\">", html);
        Assert.Contains($"<h1>{heading}</h1>", html);
    }
}
