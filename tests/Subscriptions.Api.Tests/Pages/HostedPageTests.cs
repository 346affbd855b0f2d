using System.Net;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Pages;

public class HostedPageTests(ApiFixture fixture) : ApiTest(fixture)
{
    async Task<string> Page(string path, string? acceptLanguage)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (acceptLanguage is not null)
        {
            request.Headers.AcceptLanguage.ParseAdd(acceptLanguage);
        }

        var response = await Client.SendAsync(request);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadAsStringAsync();
    }

    [Theory]
    [InlineData(null, "en", "Check your inbox")]
    [InlineData("de-CH,de;q=0.9", "de", "Bitte prüfen Sie Ihr Postfach")]
    [InlineData("fr", "fr", "Consultez votre boîte de réception")]
    [InlineData("ja,ko;q=0.5", "en", "Check your inbox")]
    public async Task Pages_speak_the_readers_language_and_say_which_it_is(string? acceptLanguage, string lang, string heading)
    {
        var html = await Page("/signup/thank-you?list=news", acceptLanguage);

        Assert.Contains($"<html lang=\"{lang}\">", html);
        Assert.Contains($"<h1>{heading}</h1>", WebUtility.HtmlDecode(html));
    }

    [Fact]
    public async Task The_embeddable_form_labels_every_field_and_hides_the_honeypot_from_people_and_screen_readers()
    {
        var html = await Page("/embed/form?list=news", "de");

        Assert.Contains("<label for=\"email\">", html);
        Assert.Contains("<label for=\"consent\">", html);
        Assert.Contains("<div class=\"hp\" aria-hidden=\"true\">", html);
        Assert.Contains("name=\"website\" tabindex=\"-1\" autocomplete=\"off\"", html);
        Assert.Contains("<html lang=\"de\">", html);
        Assert.Contains("<label for=\"website\">Lassen Sie dieses Feld leer</label>", html);
        Assert.Contains("<script src=\"/embed/subscribe.js?lang=de\" defer></script>", html);
    }

    [Theory]
    [InlineData("?lang=de", null, "Etwas ist schiefgelaufen. Bitte versuchen Sie es erneut.")]
    [InlineData("?lang=es-MX", "de", "Algo ha salido mal. Int\\u00E9ntalo de nuevo.")]
    [InlineData("", "pl-PL,pl;q=0.9", "Co\\u015B posz\\u0142o nie tak. Spr\\u00F3buj ponownie.")]
    [InlineData("?lang=xx", "ja", "Something went wrong. Please try again.")]
    public async Task The_embed_script_speaks_the_language_it_is_asked_for_else_the_browsers(string query, string? acceptLanguage, string failed)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/embed/subscribe.js" + query);
        if (acceptLanguage is not null)
        {
            request.Headers.AcceptLanguage.ParseAdd(acceptLanguage);
        }

        var response = await Client.SendAsync(request);
        var script = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Accept-Language", response.Headers.Vary);
        Assert.Contains($"\"failed\":\"{failed}\"", script);
        Assert.DoesNotContain("__SUBSCRIPTIONS_MESSAGES__", script);
    }

    [Fact]
    public async Task The_embeddable_form_of_an_unknown_list_is_404()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/embed/form?list=nope")).StatusCode);
    }

    [Theory]
    [InlineData("/signup/thank-you?list=%00")]
    [InlineData("/signup/thank-you?list=news%00")]
    [InlineData("/signup/confirmed?list=news%00")]
    [InlineData("/signup/confirmed?list=NEWS")]
    public async Task A_list_name_that_cannot_be_a_slug_names_no_list_instead_of_failing(string path)
    {
        // a NUL went to PostgreSQL, which refuses it in text: a 500, and a broken pooled connection after it
        var response = await Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("our newsletter", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/embed/form?list=news%00")]
    [InlineData("/embed/form?list=%00")]
    [InlineData("/embed/form?list=News")]
    public async Task The_embedded_form_of_a_list_name_that_cannot_be_a_slug_is_404(string path)
    {
        var response = await Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
