using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Localization;

/// <summary>
/// What a request did wrong as a request (its framing, size, charset or rate) is told in problem
/// details whose title and detail are in the reader's language: English when it asks for none, its
/// Accept-Language's otherwise. The type and the status are the same in every language.
/// </summary>
public class ProblemLanguageTests(ApiFixture fixture) : ApiTest(fixture)
{
    /// <summary>The same refusal for a request without Accept-Language and one in <paramref name="acceptLanguage"/>.</summary>
    static async Task<(JsonElement English, JsonElement Translated)> RefusedInBoth(
        HttpClient client, Func<HttpRequestMessage> request, string acceptLanguage, HttpStatusCode status)
    {
        var english = await Problem(await client.SendAsync(request()), status);
        var asked = request();
        asked.Headers.AcceptLanguage.ParseAdd(acceptLanguage);
        var translated = await Problem(await client.SendAsync(asked), status);
        Assert.Equal(TypeOf(english), TypeOf(translated));
        return (english, translated);
    }

    static string? TypeOf(JsonElement problem) => problem.TryGetProperty("type", out var type) ? type.GetString() : null;

    static async Task<JsonElement> Problem(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        return problem;
    }

    static void AssertWords(JsonElement problem, string title, string detail)
    {
        Assert.Equal(title, problem.GetProperty("title").GetString());
        Assert.Equal(detail, problem.GetProperty("detail").GetString());
    }

    static HttpRequestMessage Signup(HttpContent content) => new(HttpMethod.Post, "/api/subscriptions") { Content = content };

    static HttpContent Body(string body, string contentType)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return content;
    }

    [Fact]
    public async Task A_malformed_form_is_refused_in_spanish_to_a_spanish_reader()
    {
        const string withFile = "--b\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nana@example.org\r\n"
            + "--b\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"cv.exe\"\r\n\r\nMZ\r\n--b--\r\n";

        var (english, spanish) = await RefusedInBoth(Client, () => Signup(Body(withFile, "multipart/form-data; boundary=b")), "es-ES,es;q=0.9", HttpStatusCode.BadRequest);

        AssertWords(english, "Malformed form", "The form data could not be read.");
        AssertWords(spanish, "Formulario mal formado", "No se han podido leer los datos del formulario.");
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscribers"));
    }

    [Fact]
    public async Task Malformed_json_and_fields_of_the_wrong_shape_are_refused_in_german_to_a_german_reader()
    {
        var (english, german) = await RefusedInBoth(Client, () => Signup(Body("{\"email\":", "application/json")), "de", HttpStatusCode.BadRequest);
        AssertWords(english, "Malformed JSON", "The request body is not valid JSON.");
        AssertWords(german, "Fehlerhaftes JSON", "Der Inhalt der Anfrage ist kein gültiges JSON.");

        (english, german) = await RefusedInBoth(Client, () => Signup(Body("{\"email\":42,\"consent\":true}", "application/json")), "de", HttpStatusCode.BadRequest);
        Assert.Equal("email must be a string.", english.GetProperty("errors").GetProperty("email")[0].GetString());
        Assert.Equal("Das Feld email muss eine Zeichenkette sein.", german.GetProperty("errors").GetProperty("email")[0].GetString());
    }

    [Fact]
    public async Task A_request_too_large_is_refused_in_german_to_a_german_reader()
    {
        var tooLarge = JsonSerializer.Serialize(new { email = "big@example.org", consent = true, name = new string('n', 20_000) });

        var (english, german) = await RefusedInBoth(Client, () => Signup(Body(tooLarge, "application/json")), "de-CH,de;q=0.9", HttpStatusCode.RequestEntityTooLarge);

        AssertWords(english, "Request too large", "A signup is at most 16384 bytes.");
        AssertWords(german, "Anfrage zu groß", "Eine Anmeldung darf höchstens 16384 Bytes groß sein.");
    }

    [Fact]
    public async Task A_charset_other_than_utf8_is_refused_in_spanish_to_a_spanish_reader_as_json_and_as_a_form()
    {
        foreach (var (body, contentType) in new[]
        {
            ("{\"email\":\"ana@example.org\",\"consent\":true}", "application/json; charset=utf-16"), // the middleware every JSON endpoint has
            ("email=ana%40example.org&consent=on", "application/x-www-form-urlencoded; charset=iso-8859-1"), // the signup's own reader
        })
        {
            var (english, spanish) = await RefusedInBoth(Client, () => Signup(Body(body, contentType)), "es", HttpStatusCode.UnsupportedMediaType);

            AssertWords(english, "Unsupported charset", "Send the body as UTF-8: charset=utf-8, or no charset at all.");
            AssertWords(spanish, "Juego de caracteres no admitido", "Envía el contenido en UTF-8: charset=utf-8 o sin charset.");
        }
    }

    [Fact]
    public async Task Too_many_requests_are_refused_in_spanish_to_a_spanish_reader()
    {
        await using var app = Fixture.StartApp(("RateLimits:Signup:Burst", "1"), ("RateLimits:Signup:PerMinute", "1"));
        using var client = app.CreateHttpClient();
        HttpRequestMessage Json() => new(HttpMethod.Post, "/api/subscriptions")
        {
            Content = JsonContent.Create(new { email = "limited@example.org", consent = true }),
            Headers = { Accept = { new("application/json") } },
        };
        Assert.Equal(HttpStatusCode.Accepted, (await client.SendAsync(Json())).StatusCode);

        var (english, spanish) = await RefusedInBoth(client, Json, "es-MX,es;q=0.9", HttpStatusCode.TooManyRequests);

        AssertWords(english, "Too many requests", "Please wait a little and try again.");
        AssertWords(spanish, "Demasiadas solicitudes", "Espera un poco y vuelve a intentarlo.");
        app.AssertNoErrorsLogged();
    }
}
