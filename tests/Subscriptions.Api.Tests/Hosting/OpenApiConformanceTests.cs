using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Subscriptions.Api.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Subscriptions.Api.Tests.Hosting;

/// <summary>
/// Real traffic checked against the served document by a validator that is not ASP.NET's:
/// Stoplight Prism as a proxy (npm, installed by tests/run.sh) reports in an sl-violations
/// header every request or response that does not match the document.
/// </summary>
public class OpenApiConformanceTests(ApiFixture fixture, ITestOutputHelper output) : ApiTest(fixture)
{
    const string Token43 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"; // well-formed, never issued

    /// <summary>A request a client that follows the document may send, and the status it should get.</summary>
    sealed record Call(string Name, HttpStatusCode Status, Func<Task<HttpRequestMessage>> Request)
    {
        public Call(string name, HttpStatusCode status, Func<HttpRequestMessage> request)
            : this(name, status, () => Task.FromResult(request()))
        {
        }
    }

    /// <summary>
    /// Valid requests across the routes, in an order where later ones use what earlier ones made.
    /// Prism forwards only well-formed JSON bodies (it hangs on others), and it follows
    /// redirects, so the 303s are checked in the test below instead.
    /// </summary>
    IEnumerable<Call> Calls() =>
    [
        new("create a list with the required fields", HttpStatusCode.Created, () => Admin(HttpMethod.Post, "/api/admin/lists",
            new { slug = "prism", name = "Prism", consentText = "I agree to receive Prism.", consentTextVersion = "v1" })),
        new("create a list with every field", HttpStatusCode.Created, () => Admin(HttpMethod.Post, "/api/admin/lists", new
        {
            slug = "prism-full", name = "Prism, in full", senderName = "Prism Desk", senderEmail = "desk@example.org",
            thankYouUrl = "https://news.example.org/thanks", confirmedUrl = "https://news.example.org/welcome",
            errorUrl = "https://news.example.org/oops", allowedOrigins = new[] { "https://news.example.org" },
            consentText = "I agree.", consentTextVersion = "2026-01", defaultLocale = "de",
        })),
        new("create a list whose slug is taken", HttpStatusCode.Conflict, () => Admin(HttpMethod.Post, "/api/admin/lists",
            new { slug = "prism", name = "Again", consentText = "I agree.", consentTextVersion = "v1" })),
        new("all lists", HttpStatusCode.OK, () => Admin(HttpMethod.Get, "/api/admin/lists")),
        new("one list", HttpStatusCode.OK, () => Admin(HttpMethod.Get, "/api/admin/lists/prism-full")),
        new("an unknown list", HttpStatusCode.NotFound, () => Admin(HttpMethod.Get, "/api/admin/lists/no-such-list")),
        new("replace a list", HttpStatusCode.OK, () => Admin(HttpMethod.Put, "/api/admin/lists/prism",
            new { name = "Prism weekly", consentText = "I agree to receive Prism.", consentTextVersion = "v1", thankYouUrl = (string?)null })),
        new("signup with the required fields (JSON)", HttpStatusCode.Accepted, () => Json(HttpMethod.Post, "/api/subscriptions",
            new { email = "minimal@example.org", consent = true })),
        new("signup with every field (JSON)", HttpStatusCode.Accepted, () => Json(HttpMethod.Post, "/api/subscriptions",
            new { email = "full@example.org", consent = true, name = "Ada", locale = "de-CH", lists = new[] { "prism", "news" }, source = "https://news.example.org/a" })),
        new("signup with a bad address (JSON)", HttpStatusCode.BadRequest, () => Json(HttpMethod.Post, "/api/subscriptions",
            new { email = "not an address", consent = true })),
        new("signup with a bad address (urlencoded form)", HttpStatusCode.BadRequest, () => Page(HttpMethod.Post, "/api/subscriptions",
            new FormUrlEncodedContent([new("email", "not an address"), new("consent", "on"), new("list", "prism")]))),
        new("signup with a bad address (multipart form)", HttpStatusCode.BadRequest, () => Page(HttpMethod.Post, "/api/subscriptions",
            new MultipartFormDataContent { { new StringContent("not an address"), "email" }, { new StringContent("on"), "consent" } })),
        new("confirmation page", HttpStatusCode.OK, async () => Page(HttpMethod.Get, await ConfirmationPath("full@example.org"))),
        new("confirm (JSON)", HttpStatusCode.OK, async () => Json(HttpMethod.Post, await ConfirmationPath("full@example.org"))),
        new("confirm again (JSON)", HttpStatusCode.Gone, async () => Json(HttpMethod.Post, await ConfirmationPath("full@example.org"))),
        new("confirmation page after confirming", HttpStatusCode.Gone, async () => Page(HttpMethod.Get, await ConfirmationPath("full@example.org"))),
        new("unknown confirmation link (page)", HttpStatusCode.NotFound, () => Page(HttpMethod.Get, $"/confirm/{Token43}")),
        new("unknown confirmation link (JSON)", HttpStatusCode.NotFound, () => Json(HttpMethod.Post, $"/confirm/{Token43}")),
        new("unsubscribe page", HttpStatusCode.OK, async () => Page(HttpMethod.Get, await UnsubscribePath("full@example.org", "prism"))),
        new("unsubscribe (JSON)", HttpStatusCode.OK, async () => Json(HttpMethod.Post, await UnsubscribePath("full@example.org", "prism"))),
        new("unsubscribe (the page's button)", HttpStatusCode.OK, async () => Page(HttpMethod.Post, await UnsubscribePath("full@example.org", "news"),
            new FormUrlEncodedContent([]))),
        new("unknown unsubscribe link", HttpStatusCode.NotFound, () => Page(HttpMethod.Get, $"/unsubscribe/{Token43}")),
        new("export as CSV", HttpStatusCode.OK, () => Admin(HttpMethod.Get, "/api/admin/export")),
        new("export as NDJSON, filtered", HttpStatusCode.OK, () => Admin(HttpMethod.Get,
            "/api/admin/export?format=ndjson&list=prism&status=unsubscribed&since=2020-01-01T00:00:00Z")),
        new("export in an unknown format", HttpStatusCode.BadRequest, () => Admin(HttpMethod.Get, "/api/admin/export?format=xml")),
        new("stats", HttpStatusCode.OK, () => Admin(HttpMethod.Get, "/api/admin/stats")),
        new("create a list with a welcome mail", HttpStatusCode.Created, () => Admin(HttpMethod.Post, "/api/admin/lists",
            new { slug = "prism-welcome", name = "Prism welcome", consentText = "I agree.", consentTextVersion = "v1", welcome = true })),
        // nothing listens on the discard port, and the endpoint is paused at once: nothing is delivered
        new("register a webhook", HttpStatusCode.Created, () => Admin(HttpMethod.Post, "/api/admin/webhooks", new
        {
            url = "http://127.0.0.1:9/prism", events = new[] { "subscription.created", "subscription.confirmed" },
            lists = new[] { "prism-welcome" }, description = "Prism",
        })),
        new("register a webhook with a bad URL", HttpStatusCode.BadRequest, () => Admin(HttpMethod.Post, "/api/admin/webhooks",
            new { url = "ftp://hooks.example.org/x", events = new[] { "subscription.created" } })),
        new("signup while a webhook waits", HttpStatusCode.Accepted, async () =>
        {
            await Execute("UPDATE webhook_endpoints SET paused_until = now() + interval '1 hour'");
            return Json(HttpMethod.Post, "/api/subscriptions", new { email = "hooked@example.org", consent = true, lists = new[] { "prism-welcome" } });
        }),
        new("all webhooks", HttpStatusCode.OK, () => Admin(HttpMethod.Get, "/api/admin/webhooks")),
        new("a webhook's deliveries", HttpStatusCode.OK, async () => Admin(HttpMethod.Get, $"/api/admin/webhooks/{await WebhookId()}/deliveries?limit=10")),
        new("an unknown webhook's deliveries", HttpStatusCode.NotFound, () => Admin(HttpMethod.Get, "/api/admin/webhooks/999999/deliveries")),
        new("deliveries with a limit out of range", HttpStatusCode.BadRequest, async () => Admin(HttpMethod.Get, $"/api/admin/webhooks/{await WebhookId()}/deliveries?limit=0")),
        new("retry a delivery that is not dead", HttpStatusCode.Conflict, async () =>
            Admin(HttpMethod.Post, $"/api/admin/webhooks/{await WebhookId()}/deliveries/{await Scalar<long>("SELECT id FROM outbox WHERE kind = 'webhook'")}/retry")),
        new("retry an unknown delivery", HttpStatusCode.NotFound, async () => Admin(HttpMethod.Post, $"/api/admin/webhooks/{await WebhookId()}/deliveries/999999/retry")),
        new("stats while mails and a webhook wait", HttpStatusCode.OK, () => Admin(HttpMethod.Get, "/api/admin/stats")),
        new("retry a dead delivery", HttpStatusCode.Accepted, async () =>
        {
            // dead-lettered, and still paused: the retry queues it, nothing is sent
            var delivery = await Scalar<long>("UPDATE outbox SET dead_at = now() WHERE kind = 'webhook' RETURNING id");
            return Admin(HttpMethod.Post, $"/api/admin/webhooks/{await WebhookId()}/deliveries/{delivery}/retry");
        }),
        new("remove a webhook", HttpStatusCode.NoContent, async () => Admin(HttpMethod.Delete, $"/api/admin/webhooks/{await WebhookId()}")),
        new("remove an unknown webhook", HttpStatusCode.NotFound, () => Admin(HttpMethod.Delete, "/api/admin/webhooks/999999")),
        new("erasure", HttpStatusCode.NoContent, () => Admin(HttpMethod.Delete, "/api/admin/subscribers/minimal@example.org")),
        new("erasure of what cannot be an address", HttpStatusCode.BadRequest, () => Admin(HttpMethod.Delete, "/api/admin/subscribers/nobody")),
        new("embedded form", HttpStatusCode.OK, () => Page(HttpMethod.Get, "/embed/form?list=prism-full")),
        new("embedded form of an unknown list", HttpStatusCode.NotFound, () => Json(HttpMethod.Get, "/embed/form?list=no-such-list")),
        new("embed script", HttpStatusCode.OK, () => Request(HttpMethod.Get, "/embed/subscribe.js")),
        new("liveness", HttpStatusCode.OK, () => Request(HttpMethod.Get, "/health/live")),
        new("readiness", HttpStatusCode.OK, () => Request(HttpMethod.Get, "/health/ready")),
    ];

    [Fact]
    public async Task Valid_requests_to_every_route_and_their_answers_match_the_document_in_a_validating_proxy()
    {
        var document = await Client.GetStringAsync("/openapi/v1.json");
        await using var prism = await ValidatingProxy.StartAsync(document, Fixture.App.BaseAddress);
        using var proxy = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = prism.BaseAddress };

        var failures = new List<string>();
        foreach (var call in Calls())
        {
            using var response = await proxy.SendAsync(await call.Request());
            var violations = response.Headers.TryGetValues("sl-violations", out var values) ? string.Concat(values) : null;
            output.WriteLine($"{(int)response.StatusCode} {call.Name}{(violations is null ? "" : $": {violations}")}");
            if (response.StatusCode != call.Status || violations is not null)
            {
                failures.Add($"{call.Name}: {(int)response.StatusCode} (expected {(int)call.Status}) {violations} {await response.Content.ReadAsStringAsync()}");
            }
        }

        Assert.Empty(failures);

        // The proxy is awake: a body the document refuses (no email) is reported.
        using var invalid = await proxy.SendAsync(Json(HttpMethod.Post, "/api/subscriptions", new { consent = true }));
        Assert.True(invalid.Headers.Contains("sl-violations"), "Prism reported nothing for a signup without an email");
    }

    [Fact]
    public async Task Form_posts_and_a_browser_confirming_get_the_documented_303()
    {
        using var root = JsonDocument.Parse(await Client.GetStringAsync("/openapi/v1.json"));
        await Execute("INSERT INTO lists (slug, name, consent_text, consent_text_version) VALUES ('prism', 'Prism', 'I agree.', 'v1')");

        var urlencoded = await Client.SendAsync(Page(HttpMethod.Post, "/api/subscriptions",
            new FormUrlEncodedContent([new("email", "form@example.org"), new("consent", "on"), new("list", "prism"), new("list", "news")])));
        var multipart = await Client.SendAsync(Page(HttpMethod.Post, "/api/subscriptions",
            new MultipartFormDataContent { { new StringContent("multipart@example.org"), "email" }, { new StringContent("on"), "consent" } }));
        var confirm = await Client.SendAsync(Page(HttpMethod.Post, await ConfirmationPath("form@example.org")));

        Assert.All([urlencoded, multipart, confirm], r => Assert.Equal(HttpStatusCode.SeeOther, r.StatusCode));
        Assert.True(Documented(root, "/api/subscriptions", "post", "303"));
        Assert.True(Documented(root, "/confirm/{token}", "post", "303"));
    }

    static bool Documented(JsonDocument document, string path, string method, string status) =>
        document.RootElement.GetProperty("paths").GetProperty(path).GetProperty(method).GetProperty("responses").TryGetProperty(status, out _);

    static HttpRequestMessage Request(HttpMethod method, string path, HttpContent? content = null, string? accept = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        if (accept is not null)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        }

        return request;
    }

    /// <summary>A script: JSON in (when there is a body), JSON out.</summary>
    static HttpRequestMessage Json(HttpMethod method, string path, object? body = null) =>
        Request(method, path, body is null ? null : JsonContent.Create(body), "application/json");

    /// <summary>A reader's browser.</summary>
    static HttpRequestMessage Page(HttpMethod method, string path, HttpContent? content = null) =>
        Request(method, path, content, "text/html");

    static HttpRequestMessage Admin(HttpMethod method, string path, object? body = null)
    {
        var request = Json(method, path, body);
        request.Headers.Authorization = new("Bearer", ApiFixture.AdminKey);
        return request;
    }

    Task<long> WebhookId() => Scalar<long>("SELECT id FROM webhook_endpoints");

    async Task<string> ConfirmationPath(string email)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var mail = (await Fixture.Mail.MessagesAsync()).FirstOrDefault(m => m.To.Mailboxes.Single().Address == email);
            if (mail is not null)
            {
                return Confirmation.ConfirmationMailTests.ConfirmationLink(mail).PathAndQuery;
            }

            Assert.True(DateTime.UtcNow < deadline, $"no confirmation mail to {email}");
            await Task.Delay(100);
        }
    }

    async Task<string> UnsubscribePath(string email, string list)
    {
        using var admin = AdminClient();
        var rows = (await admin.GetStringAsync($"/api/admin/export?format=ndjson&list={list}"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement);
        var row = rows.Single(r => r.GetProperty("email").GetString() == email);
        return new Uri(row.GetProperty("unsubscribe_url").GetString()!).PathAndQuery;
    }

    /// <summary>Prism in proxy mode in front of the service, on a loopback port of its own.</summary>
    sealed class ValidatingProxy(RunningTool prism, string document, Uri baseAddress) : IAsyncDisposable
    {
        public Uri BaseAddress { get; } = baseAddress;

        public static async Task<ValidatingProxy> StartAsync(string openApiDocument, Uri upstream)
        {
            var cli = Path.Combine(RepositoryPaths.Root, "tests", ".tools", "node_modules", "@stoplight", "prism-cli", "dist", "index.js");
            Assert.True(File.Exists(cli), $"{cli} is missing: tests/run.sh installs it (npm @stoplight/prism-cli).");
            var document = Path.Combine(Path.GetTempPath(), $"openapi-{Guid.NewGuid():N}.json");
            await File.WriteAllTextAsync(document, openApiDocument);
            var port = LocalNetworking.FreePort();
            var prism = ExternalTool.Start("node", [cli, "proxy", document, upstream.ToString().TrimEnd('/'), "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--host", "127.0.0.1"]);
            var proxy = new ValidatingProxy(prism, document, new Uri($"http://127.0.0.1:{port}/"));
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!prism.Output.Contains("Prism is listening", StringComparison.Ordinal))
            {
                if (prism.HasExited || DateTime.UtcNow > deadline)
                {
                    var said = prism.Output;
                    await proxy.DisposeAsync();
                    Assert.Fail($"Prism did not start: {said}");
                }

                await Task.Delay(100);
            }

            return proxy;
        }

        public async ValueTask DisposeAsync()
        {
            await prism.DisposeAsync();
            File.Delete(document);
        }
    }
}
