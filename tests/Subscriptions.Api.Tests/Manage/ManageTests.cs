using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MimeKit;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;
using Subscriptions.Api.Tests.Webhooks;

namespace Subscriptions.Api.Tests.Manage;

/// <summary>The preference centre from the welcome mail's link, against the real PostgreSQL, MailDev and webhook receiver.</summary>
public sealed class ManageTests(ApiFixture fixture, ReceiverFixture receivers) : ApiTest(fixture), IClassFixture<ReceiverFixture>
{
    WebhookReceiver Receiver => receivers.Receiver;

    /// <summary>The link in a mail's text part that starts with the service's /manage/.</summary>
    public static Uri ManageLink(MimeMessage mail) =>
        new((mail.TextBody ?? "").Split(['\n', ' ', '\r'], StringSplitOptions.RemoveEmptyEntries).Single(w => w.Contains("/manage/", StringComparison.Ordinal)));

    /// <summary>A reader confirmed on news (which welcomes), with a second list to choose: the manage link from the welcome mail.</summary>
    async Task<Uri> WelcomedReader(string email)
    {
        await Execute("""
            UPDATE lists SET welcome = true WHERE slug = 'news';
            INSERT INTO lists (slug, name, consent_text, consent_text_version) VALUES ('sport', 'Sport', 'I agree to sport', 's-2');
            INSERT INTO lists (slug, name, consent_text, consent_text_version, hidden) VALUES ('staff', 'Staff only', 'ok', '1', true);
            """);
        Assert.Equal(HttpStatusCode.Accepted, (await Client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true })).StatusCode);
        var confirmation = Assert.Single(await Fixture.Mail.WaitForMailToAsync(email));
        Assert.Equal(HttpStatusCode.SeeOther, (await Client.PostAsync(ConfirmationMailTests.ConfirmationLink(confirmation).PathAndQuery, null)).StatusCode);
        var welcome = (await Fixture.Mail.WaitForMailToAsync(email, 2)).Single(m => (m.TextBody ?? "").Contains("/manage/", StringComparison.Ordinal));
        Assert.Contains("/manage/", welcome.HtmlBody, StringComparison.Ordinal);
        // MailDev has it as soon as the relay accepts it; the ledger's welcome_sent follows when the outcome is written
        await Eventually.TrueAsync(() => Scalar<bool>("SELECT EXISTS (SELECT FROM subscription_events WHERE type = 'welcome_sent')"),
            TimeSpan.FromSeconds(10), "the welcome mail is recorded as sent");
        return ManageLink(welcome);
    }

    static FormUrlEncodedContent Form(params (string Name, string Value)[] fields) => new(fields.Select(f => KeyValuePair.Create(f.Name, f.Value)));

    async Task<long> Events() => await Scalar<long>("SELECT count(*) FROM subscription_events");

    [Fact]
    public async Task The_centre_opens_from_the_welcome_mail_and_looking_changes_nothing()
    {
        var link = await WelcomedReader("look@example.org");
        var before = await Events();

        var page = await Client.GetAsync(link.PathAndQuery);

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<legend>Newsletters</legend>", html);
        Assert.Contains("name=\"list\" value=\"news\" checked", html);
        Assert.Contains("name=\"list\" value=\"sport\"", html);
        Assert.DoesNotContain("staff", html); // hidden from the centre
        Assert.Contains("<label for=\"language\">", html);
        Assert.Contains("value=\"unsubscribe-all\"", html);
        Assert.Contains("value=\"download\"", html);
        Assert.Equal(before, await Events());
        Assert.Equal("confirmed", await Scalar<string>("SELECT status FROM subscriptions"));
    }

    [Fact]
    public async Task Adding_a_list_records_consent_evidence_and_every_change_reaches_ledger_webhooks_and_export()
    {
        using var admin = AdminClient();
        await WebhookAdmin.RegisterAsync(admin, Receiver, "manage-changes", events: ["subscription.confirmed", "subscription.unsubscribed"]);
        var link = await WelcomedReader("chooser@example.org");
        await Receiver.WaitAsync("manage-changes", r => r.Count == 1); // news confirmed

        using var request = new HttpRequestMessage(HttpMethod.Post, link.PathAndQuery) { Content = Form(("action", "save"), ("list", "sport"), ("language", "de")) };
        request.Headers.UserAgent.ParseAdd("ManageTest/1.0");
        var saved = await Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.SeeOther, saved.StatusCode);
        Assert.Equal(link.AbsolutePath + "?done=saved", saved.Headers.Location?.OriginalString);
        var sport = await Scalar<string>("""
            SELECT concat_ws('|', sub.status, sub.consent_source, host(sub.consent_ip), sub.consent_user_agent, sub.consent_text_version, sub.consent_text_language)
            FROM subscriptions sub JOIN lists l ON l.id = sub.list_id WHERE l.slug = 'sport'
            """);
        Assert.Equal("confirmed|manage|127.0.0.1|ManageTest/1.0|s-2|en", sport);
        Assert.Equal("unsubscribed", await Scalar<string>("SELECT sub.status FROM subscriptions sub JOIN lists l ON l.id = sub.list_id WHERE l.slug = 'news'"));
        Assert.Equal("de", await Scalar<string>("SELECT locale FROM subscribers"));
        Assert.Equal(["signup", "confirmed"], await Strings("""
            SELECT e.type FROM subscription_events e JOIN lists l ON l.id = e.list_id WHERE l.slug = 'sport' AND e.source = 'manage' AND e.ip IS NOT NULL ORDER BY e.id
            """));
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'unsubscribed' AND source = 'manage'"));
        Assert.Equal(2, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'locale_changed' AND reason = 'de'"));

        var received = await Receiver.WaitAsync("manage-changes", r => r.Count == 3);
        Assert.Contains(received, r => r.Type == "subscription.confirmed" && r.Data.GetProperty("list").GetString() == "sport"
            && r.Data.GetProperty("consent").GetProperty("source").GetString() == "manage");
        Assert.Contains(received, r => r.Type == "subscription.unsubscribed" && r.Data.GetProperty("list").GetString() == "news");
        Assert.All(received, r => Assert.True(r.Verified));
        // every event carries the reader's preference centre, which opens
        Assert.All(received, r => Assert.StartsWith(Fixture.App.BaseAddress + "manage/", r.Data.GetProperty("manageUrl").GetString()));
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync(new Uri(received[^1].Data.GetProperty("manageUrl").GetString()!).PathAndQuery)).StatusCode);

        var export = (await admin.GetStringAsync("/api/admin/export?format=ndjson")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["unsubscribed", "confirmed"], export.Select(r => r.GetProperty("status").GetString()));
        Assert.All(export, r => Assert.StartsWith(Fixture.App.BaseAddress + "manage/", r.GetProperty("manage_url").GetString()));
        Assert.Equal("de", export[1].GetProperty("locale").GetString());

        // the page now speaks the reader's chosen language, and says it saved
        var page = await (await Client.GetAsync(saved.Headers.Location!.OriginalString)).Content.ReadAsStringAsync();
        Assert.Contains("<html lang=\"de\">", page);
        Assert.Contains("Ihre Auswahl ist gespeichert.", page);
    }

    async Task<long> QueuedUpdates() => await Scalar<long>("SELECT count(*) FROM outbox WHERE kind = 'webhook' AND payload ->> 'type' = 'subscriber.updated'");

    [Fact]
    public async Task A_language_change_sends_one_signed_subscriber_updated_with_the_new_and_previous_locale()
    {
        using var admin = AdminClient();
        await WebhookAdmin.RegisterAsync(admin, Receiver, "language-changes", events: ["subscriber.updated"]);
        var link = await WelcomedReader("polyglot@example.org");

        Assert.Equal(HttpStatusCode.SeeOther, (await Client.PostAsync(link.PathAndQuery, Form(("action", "save"), ("list", "news"), ("list", "sport"), ("language", "de")))).StatusCode);

        var first = Assert.Single(await Receiver.WaitAsync("language-changes", r => r.Count >= 1));
        Assert.True(first.Verified, first.Error);
        Assert.Equal("subscriber.updated", first.Type);
        Assert.Equal("polyglot@example.org", first.Data.GetProperty("email").GetString());
        Assert.Equal("de", first.Data.GetProperty("locale").GetString());
        Assert.Equal(JsonValueKind.Null, first.Data.GetProperty("previousLocale").ValueKind); // signed up without a locale
        Assert.Equal(["news", "sport"], first.Data.GetProperty("lists").EnumerateArray().Select(l => l.GetString()));
        var manageUrl = first.Data.GetProperty("manageUrl").GetString()!;
        Assert.StartsWith(Fixture.App.BaseAddress + "manage/", manageUrl);
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync(new Uri(manageUrl).PathAndQuery)).StatusCode);
        Assert.Equal(1, await QueuedUpdates());

        // a second change names the first as the previous locale; the lists are those the reader is on now
        Assert.Equal(HttpStatusCode.SeeOther, (await Client.PostAsync(link.PathAndQuery, Form(("action", "save"), ("list", "sport"), ("language", "fr")))).StatusCode);

        var received = await Receiver.WaitAsync("language-changes", r => r.Count >= 2);
        Assert.Equal(2, received.Count);
        Assert.True(received[1].Verified, received[1].Error);
        Assert.Equal("fr", received[1].Data.GetProperty("locale").GetString());
        Assert.Equal("de", received[1].Data.GetProperty("previousLocale").GetString());
        Assert.Equal(["sport"], received[1].Data.GetProperty("lists").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal(2, await QueuedUpdates());
    }

    [Fact]
    public async Task Saving_the_page_without_changing_the_language_sends_no_subscriber_updated()
    {
        using var admin = AdminClient();
        await WebhookAdmin.RegisterAsync(admin, Receiver, "language-kept", events: ["subscription.confirmed", "subscriber.updated"]);
        var link = await WelcomedReader("steady@example.org");
        Assert.Equal(HttpStatusCode.SeeOther, (await Client.PostAsync(link.PathAndQuery, Form(("action", "save"), ("list", "news"), ("language", "it")))).StatusCode);
        await Receiver.WaitAsync("language-kept", r => r.Count == 2); // news confirmed, then the change to Italian

        // the page sends the language it shows, here the one already chosen, with another list
        Assert.Equal(HttpStatusCode.SeeOther, (await Client.PostAsync(link.PathAndQuery, Form(("action", "save"), ("list", "news"), ("list", "sport"), ("language", "it")))).StatusCode);

        var received = await Receiver.WaitAsync("language-kept", r => r.Count >= 3);
        Assert.Equal(["subscription.confirmed", "subscriber.updated", "subscription.confirmed"], received.Select(r => r.Type));
        Assert.All(received, r => Assert.True(r.Verified, r.Error));
        // written in the transaction of the change, so none can still be on its way
        Assert.Equal(1, await QueuedUpdates());
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'locale_changed'")); // news's, from the first save
    }

    [Fact]
    public async Task An_endpoint_that_did_not_ask_for_subscriber_updated_or_for_the_readers_lists_hears_nothing_of_a_language_change()
    {
        using var admin = AdminClient();
        await WebhookAdmin.RegisterAsync(admin, Receiver, "updates-wanted", events: ["subscriber.updated"]);
        await WebhookAdmin.RegisterAsync(admin, Receiver, "updates-unwanted", events: ["subscription.confirmed", "subscription.unsubscribed"]);
        var link = await WelcomedReader("quiet@example.org");
        await WebhookAdmin.RegisterAsync(admin, Receiver, "updates-of-sport", events: ["subscriber.updated"], lists: ["sport"]);
        await Receiver.WaitAsync("updates-unwanted", r => r.Count == 1); // news confirmed

        Assert.Equal(HttpStatusCode.SeeOther, (await Client.PostAsync(link.PathAndQuery, Form(("action", "save"), ("list", "news"), ("language", "pl")))).StatusCode);

        Assert.Equal("pl", Assert.Single(await Receiver.WaitAsync("updates-wanted", r => r.Count >= 1)).Data.GetProperty("locale").GetString());
        // one event queued in all, for the endpoint that asked for it: nothing waits for the others
        Assert.Equal(1, await QueuedUpdates());
        Assert.Equal(["subscription.confirmed"], (await Receiver.ReceivedAsync("updates-unwanted")).Select(r => r.Type));
        Assert.Empty(await Receiver.ReceivedAsync("updates-of-sport"));
    }

    [Fact]
    public async Task Unsubscribing_from_everything_leaves_every_list_and_cancels_waiting_mail()
    {
        var link = await WelcomedReader("leaver@example.org");
        Assert.Equal(HttpStatusCode.SeeOther, (await Client.PostAsync(link.PathAndQuery, Form(("action", "save"), ("list", "news"), ("list", "sport")))).StatusCode);

        var left = await Client.PostAsync(link.PathAndQuery, Form(("action", "unsubscribe-all")));

        Assert.Equal(HttpStatusCode.SeeOther, left.StatusCode);
        Assert.Equal(["unsubscribed", "unsubscribed"], await Strings("SELECT status FROM subscriptions ORDER BY id"));
        Assert.Equal(2, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'unsubscribed'"));
        // the link still opens the centre, where the reader could come back
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync(link.PathAndQuery)).StatusCode);
    }

    [Fact]
    public async Task Download_my_data_is_the_person_document_as_a_json_file()
    {
        var link = await WelcomedReader("mine@example.org");

        var download = await Client.PostAsync(link.PathAndQuery, Form(("action", "download")));

        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("application/json", download.Content.Headers.ContentType?.MediaType);
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition?.DispositionType);
        Assert.StartsWith("my-data-", download.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
        var document = JsonDocument.Parse(await download.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("mine@example.org", document.GetProperty("subscriber").GetProperty("email").GetString());
        Assert.Equal("news", Assert.Single(document.GetProperty("subscriptions").EnumerateArray()).GetProperty("list").GetString());
        Assert.Contains(document.GetProperty("mails").EnumerateArray(), m => m.GetProperty("kind").GetString() == "welcome");
        using var admin = AdminClient();
        var adminDocument = JsonDocument.Parse(await admin.GetStringAsync("/api/admin/subscribers/mine%40example.org")).RootElement;
        Assert.Equal(adminDocument.GetProperty("ledger").GetRawText(), document.GetProperty("ledger").GetRawText());
    }

    [Fact]
    public async Task A_hidden_or_archived_list_cannot_be_joined_even_by_a_forged_form()
    {
        var link = await WelcomedReader("forger@example.org");
        await Execute("UPDATE lists SET archived_at = now() WHERE slug = 'sport'");

        var response = await Client.PostAsync(link.PathAndQuery, Form(("action", "save"), ("list", "news"), ("list", "staff"), ("list", "sport")));

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM subscriptions"));
    }

    [Theory]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("short")]
    [InlineData("AAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("%E2%80%AEAAAAAAAAAEAAAAAAAAAAAAAAAAAAAA")]
    public async Task A_forged_or_stale_link_gets_a_friendly_page_and_changes_nothing(string token)
    {
        using var browser = new HttpRequestMessage(HttpMethod.Get, $"/manage/{token}");
        browser.Headers.Accept.ParseAdd("text/html");
        var page = await Client.SendAsync(browser);

        Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("link to your subscriptions", await page.Content.ReadAsStringAsync());
        var post = await Client.PostAsync($"/manage/{token}", Form(("action", "unsubscribe-all")));
        Assert.Equal(HttpStatusCode.NotFound, post.StatusCode);
    }

    [Fact]
    public async Task An_unsubscribe_token_is_no_manage_token_and_an_erased_readers_link_is_stale()
    {
        var link = await WelcomedReader("erased@example.org");
        using var admin = AdminClient();
        var unsubscribe = JsonDocument.Parse(await admin.GetStringAsync("/api/admin/export?format=ndjson")).RootElement.GetProperty("unsubscribe_url").GetString()!;
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/manage/" + new Uri(unsubscribe).Segments[^1])).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/admin/subscribers/erased%40example.org")).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync(link.PathAndQuery)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.PostAsync(link.PathAndQuery, Form(("action", "download")))).StatusCode);
    }

    [Fact]
    public async Task Forms_the_page_never_sends_are_refused_and_change_nothing()
    {
        var link = await WelcomedReader("hostile@example.org");
        var before = await Events();
        HttpContent[] bodies =
        [
            Form(("action", "SAVE")), Form(("action", "save"), ("language", "xx")), Form(("action", "save"), ("list", "News")),
            Form(("action", "save"), ("action", "unsubscribe-all")), Form(("list", "sport")),
            new StringContent("action=unsubscribe-all", System.Text.Encoding.UTF8, "text/plain"),
            new StringContent("{\"action\":\"unsubscribe-all\"}", System.Text.Encoding.UTF8, "application/json"),
            new StringContent("action=unsubscribe-all", System.Text.Encoding.Latin1, "application/x-www-form-urlencoded"),
            Form(("action", "save"), ("list", new string('a', 20_000))),
        ];
        foreach (var body in bodies)
        {
            var response = await Client.PostAsync(link.PathAndQuery, body);
            Assert.InRange((int)response.StatusCode, 400, 499);
        }

        Assert.Equal(before, await Events());
        Assert.Equal("confirmed", await Scalar<string>("SELECT status FROM subscriptions"));
    }

    async Task<List<string>> Strings(string sql)
    {
        await using var connection = await Database.OpenConnectionAsync();
        return [.. await Dapper.SqlMapper.QueryAsync<string>(connection, sql)];
    }
}
