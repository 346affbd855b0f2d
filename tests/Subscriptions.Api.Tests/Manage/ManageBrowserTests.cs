using System.Text.Json;
using Microsoft.Playwright;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;
using Subscriptions.Api.Tests.Webhooks;
using static Microsoft.Playwright.Assertions;

namespace Subscriptions.Api.Tests.Manage;

/// <summary>
/// A reader in Debian's Chromium (Playwright), from the welcome mail's link: adds a second list,
/// changes the language, downloads their data, then unsubscribes from everything, with the
/// keyboard where a keyboard user would; the export and the webhook receiver show each change.
/// Screenshots: TestResults/screenshots/manage-*.png.
/// </summary>
public sealed class ManageBrowserTests(ApiFixture fixture, ReceiverFixture receivers) : ApiTest(fixture), IClassFixture<ReceiverFixture>
{
    [Fact]
    public async Task A_reader_adds_a_list_changes_the_language_downloads_their_data_and_leaves_everything()
    {
        using var admin = AdminClient();
        await WebhookAdmin.RegisterAsync(admin, receivers.Receiver, "browser-walk", events: ["subscription.confirmed", "subscription.unsubscribed", "subscriber.updated"]);
        await Execute("""
            UPDATE lists SET welcome = true WHERE slug = 'news';
            INSERT INTO lists (slug, name, consent_text, consent_text_version) VALUES ('sport', 'Sport', 'I agree to sport', 's-1');
            """);
        Assert.Equal(System.Net.HttpStatusCode.SeeOther, (await Client.PostAsync("/api/subscriptions",
            new FormUrlEncodedContent([new("email", "walker@example.org"), new("consent", "on")]))).StatusCode);
        var confirmation = Assert.Single(await Fixture.Mail.WaitForMailToAsync("walker@example.org"));
        await Client.PostAsync(ConfirmationMailTests.ConfirmationLink(confirmation).PathAndQuery, null);
        var welcome = (await Fixture.Mail.WaitForMailToAsync("walker@example.org", 2)).Single(m => (m.TextBody ?? "").Contains("/manage/", StringComparison.Ordinal));
        var link = ManageTests.ManageLink(welcome);
        var screenshots = RepositoryPaths.Screenshots;
        Directory.CreateDirectory(screenshots);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        var context = await browser.NewContextAsync(new() { Locale = "en-GB", AcceptDownloads = true });
        var page = await context.NewPageAsync();

        // the welcome mail's link: the lists with their status, the language, the two other actions
        await page.GotoAsync(link.AbsoluteUri);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Your newsletter subscriptions" })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Checkbox, new() { Name = "News" })).ToBeCheckedAsync();
        await Expect(page.GetByRole(AriaRole.Checkbox, new() { Name = "Sport" })).Not.ToBeCheckedAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(screenshots, "manage-1-centre.png"), FullPage = true });

        // add Sport with the keyboard, choose German, save
        await page.GetByRole(AriaRole.Checkbox, new() { Name = "Sport" }).FocusAsync();
        await page.Keyboard.PressAsync("Space");
        await page.GetByLabel("Language of our mails").SelectOptionAsync("de");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save my choices" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Ihre Auswahl ist gespeichert.");
        await Expect(page.GetByRole(AriaRole.Checkbox, new() { Name = "Sport" })).ToBeCheckedAsync();
        Assert.Equal("de", await page.Locator("html").GetAttributeAsync("lang"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(screenshots, "manage-2-saved-in-german.png"), FullPage = true });
        var received = await Assertions(admin, "news:confirmed,sport:confirmed", 3, "de");
        // the language change: one subscriber.updated, after Sport's confirmation
        Assert.Equal("subscriber.updated", received[^1].Type);
        Assert.Equal("de", received[^1].Data.GetProperty("locale").GetString());
        Assert.Equal(JsonValueKind.Null, received[^1].Data.GetProperty("previousLocale").ValueKind);
        Assert.Equal(["news", "sport"], received[^1].Data.GetProperty("lists").EnumerateArray().Select(l => l.GetString()));

        // download my data: a JSON file
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Meine Daten herunterladen" }).ClickAsync());
        Assert.StartsWith("my-data-", download.SuggestedFilename);
        var file = Path.Combine(screenshots, "manage-3-my-data.json");
        await download.SaveAsAsync(file);
        var document = JsonDocument.Parse(await File.ReadAllTextAsync(file)).RootElement;
        Assert.Equal(["news", "sport"], document.GetProperty("subscriptions").EnumerateArray().Select(s => s.GetProperty("list").GetString()));
        Assert.Equal("manage", document.GetProperty("subscriptions")[1].GetProperty("consent").GetProperty("source").GetString());

        // unsubscribe from everything
        await page.GetByRole(AriaRole.Button, new() { Name = "Von allem abmelden" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Sie sind von allen unseren Newslettern abgemeldet.");
        await Expect(page.GetByRole(AriaRole.Checkbox, new() { Name = "News" })).Not.ToBeCheckedAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(screenshots, "manage-4-left-everything.png"), FullPage = true });
        await Assertions(admin, "news:unsubscribed,sport:unsubscribed", 5, "de");

        // a forged link: a friendly page, in the browser's language
        await page.GotoAsync(new Uri(Fixture.App.BaseAddress, "/manage/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").AbsoluteUri);
        await Expect(page.GetByText("We could not find this link to your subscriptions.")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(screenshots, "manage-5-forged-link.png"), FullPage = true });
    }

    /// <summary>The export shows each list's status and the language; the receiver got each event beyond the first confirmation.</summary>
    async Task<List<WebhookReceiver.Received>> Assertions(HttpClient admin, string statuses, int events, string locale)
    {
        var rows = (await admin.GetStringAsync("/api/admin/export?format=ndjson")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(statuses, string.Join(',', rows.Select(r => $"{r.GetProperty("list").GetString()}:{r.GetProperty("status").GetString()}")));
        Assert.All(rows, r => Assert.Equal(locale, r.GetProperty("locale").GetString()));
        var received = await receivers.Receiver.WaitAsync("browser-walk", r => r.Count >= events);
        Assert.Equal(events, received.Count);
        Assert.All(received, r => Assert.True(r.Verified));
        return received;
    }
}
