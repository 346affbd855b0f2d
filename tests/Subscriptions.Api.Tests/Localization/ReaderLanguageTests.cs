using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Localization;

/// <summary>A reader who asks for Spanish (or any language we speak) reads Spanish everywhere: errors, answers, the mail, the pages.</summary>
public class ReaderLanguageTests(ApiFixture fixture) : ApiTest(fixture)
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

        // the link opens a page in the browser's language
        using var request = new HttpRequestMessage(HttpMethod.Get, ConfirmationMailTests.ConfirmationLink(mail).PathAndQuery);
        request.Headers.AcceptLanguage.ParseAdd("es-ES,es;q=0.9");
        var page = WebUtility.HtmlDecode(await (await Client.SendAsync(request)).Content.ReadAsStringAsync());
        Assert.Contains("<html lang=\"es\">", page);
        Assert.Contains("<h1>Confirma tu suscripción</h1>", page);
        Assert.Contains(">Confirmar</button>", page);
    }

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
