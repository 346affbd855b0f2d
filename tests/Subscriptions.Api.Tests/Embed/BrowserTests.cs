using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Playwright;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace Subscriptions.Api.Tests.Embed;

/// <summary>
/// A reader in Debian's Chromium (driven by Playwright) on a news site of another origin that
/// embeds the signup snippet: with JavaScript (inline answer through fetch and CORS), without
/// (303 to the thank-you page), then the mail, the Confirm button and the export.
/// Screenshots land in TestResults/screenshots at the repository's root.
/// </summary>
public sealed partial class BrowserTests(ApiFixture fixture) : ApiTest(fixture), IAsyncLifetime
{
    static readonly string Screenshots = RepositoryPaths.Screenshots;

    SubscriptionsApp _service = null!;
    WebApplication _newsSite = null!;
    IPlaywright _playwright = null!;
    IBrowser _browser = null!;

    string NewsSite => _newsSite.Urls.First();

    async Task IAsyncLifetime.InitializeAsync()
    {
        await InitializeAsync();
        _newsSite = await StartNewsSiteAsync();
        await Execute("UPDATE lists SET allowed_origins = @origins WHERE slug = 'news'", new { origins = new[] { NewsSite } });
        _service = Fixture.StartApp(); // its own CORS cache, which sees the origin
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        Directory.CreateDirectory(Screenshots);
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        _service.AssertNoErrorsLogged();
        await _browser.DisposeAsync();
        _playwright.Dispose();
        await _newsSite.DisposeAsync();
        await _service.DisposeAsync();
        await DisposeAsync();
    }

    /// <summary>The snippet the README gives news sites, on a page of a different origin (127.0.0.2 vs 127.0.0.1).</summary>
    async Task<WebApplication> StartNewsSiteAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.2:0"); // another loopback host: another origin
        var site = builder.Build();
        site.MapGet("/", () => Results.Content($"""
            <!doctype html>
            <html lang="en">
            <head><meta charset="utf-8"><title>The Daily Example</title></head>
            <body>
            <h1>The Daily Example</h1>
            <form method="post" action="{_service.BaseAddress}api/subscriptions" data-subscriptions-form>
              <input type="hidden" name="list" value="news">
              <label>Email <input type="email" name="email" required autocomplete="email"></label>
              <label><input type="checkbox" name="consent" value="on" required> By submitting this form, I agree to the terms</label>
              <div hidden aria-hidden="true"><input name="website" tabindex="-1" autocomplete="off"></div>
              <button>Sign up to receive our latest news</button>
              <p data-subscriptions-message role="status" aria-live="polite"></p>
            </form>
            <script src="{_service.BaseAddress}embed/subscribe.js" defer></script>
            </body>
            </html>
            """, "text/html; charset=utf-8"));
        site.MapGet("/in/{lang}", (string lang) => Results.Content(NewsSitePage(lang), "text/html; charset=utf-8"));
        site.MapGet("/framed", () => Results.Content($"""
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Framed</title></head>
            <body><iframe src="{_service.BaseAddress}embed/form?list=news" title="Newsletter signup" width="600" height="420"></iframe></body></html>
            """, "text/html; charset=utf-8"));
        await site.StartAsync();
        return site;
    }

    async Task<IPage> SignUpOnNewsSite(string email, bool javaScript)
    {
        var context = await _browser.NewContextAsync(new() { JavaScriptEnabled = javaScript });
        var page = await context.NewPageAsync();
        await page.GotoAsync(NewsSite);
        await page.GetByLabel("Email").FillAsync(email);
        await page.GetByLabel("By submitting this form, I agree to the terms").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign up to receive our latest news" }).ClickAsync();
        return page;
    }

    [Fact]
    public async Task With_javascript_the_answer_shows_inline_then_the_mail_link_and_confirm_button_confirm()
    {
        var page = await SignUpOnNewsSite("browser@example.org", javaScript: true);

        await Expect(page.Locator("[data-subscriptions-message]")).ToContainTextAsync("Check your inbox");
        Assert.StartsWith(NewsSite, page.Url);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "1-news-site-inline-success.png"), FullPage = true });

        var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync("browser@example.org"));
        await page.GotoAsync(ConfirmationMailTests.ConfirmationLink(mail).AbsoluteUri);
        await Expect(page.GetByRole(AriaRole.Heading)).ToHaveTextAsync("Confirm your subscription");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "2-confirm-page.png"), FullPage = true });
        await page.GetByRole(AriaRole.Button, new() { Name = "Confirm" }).ClickAsync();

        await Expect(page.GetByRole(AriaRole.Heading)).ToHaveTextAsync("You're subscribed");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "3-confirmed-page.png"), FullPage = true });
        using var admin = AdminClient();
        var export = await admin.GetStringAsync("/api/admin/export?format=csv&status=confirmed");
        Assert.Contains("browser@example.org,,news,confirmed", export);
    }

    [Fact]
    public async Task Without_javascript_the_form_posts_and_the_browser_follows_the_303()
    {
        var page = await SignUpOnNewsSite("nojs@example.org", javaScript: false);

        await Expect(page.GetByRole(AriaRole.Heading)).ToHaveTextAsync("Check your inbox");
        Assert.StartsWith(_service.BaseAddress + "signup/thank-you", page.Url);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "4-no-javascript-thank-you.png"), FullPage = true });
        Assert.Equal("pending", await Scalar<string>("SELECT status FROM subscriptions"));
    }

    [Fact]
    public async Task With_javascript_a_refused_address_shows_its_error_beside_the_field()
    {
        // the browser's own check accepts a@b; the service does not
        var page = await SignUpOnNewsSite("a@b", javaScript: true);

        var email = page.GetByLabel("Email");
        await Expect(email).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(page.Locator("[data-subscriptions-field-error]")).ToContainTextAsync("Enter a valid email address");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "5-inline-field-error.png"), FullPage = true });
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscribers"));
    }

    [Fact]
    public async Task The_hosted_form_can_be_framed_by_the_lists_site_and_signs_up_inline()
    {
        var page = await _browser.NewPageAsync();
        await page.GotoAsync(NewsSite + "/framed");
        var frame = page.FrameLocator("iframe");

        await frame.GetByLabel("Email address").FillAsync("framed@example.org");
        await frame.GetByLabel("By submitting this form, I agree to the terms.").CheckAsync();
        await frame.GetByRole(AriaRole.Button, new() { Name = "Sign up" }).ClickAsync();

        await Expect(frame.Locator("[data-subscriptions-message]")).ToContainTextAsync("Check your inbox");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "6-framed-form.png"), FullPage = true });
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM subscribers WHERE email = 'framed@example.org'"));
    }
}
