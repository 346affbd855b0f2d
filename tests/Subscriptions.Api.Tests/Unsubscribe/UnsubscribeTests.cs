using System.Net;
using System.Buffers.Text;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Subscriptions.Api.Data;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Unsubscribe;

public class UnsubscribeTests(ApiFixture fixture) : ApiTest(fixture)
{
    async Task<Uri> ConfirmedSubscriber(string email)
    {
        await Client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true });
        var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync(email));
        Assert.Equal(HttpStatusCode.SeeOther, (await Client.PostAsync(ConfirmationMailTests.ConfirmationLink(mail), null)).StatusCode);
        await Fixture.Mail.ClearAsync();
        using var admin = AdminClient();
        var export = await admin.GetStringAsync("/api/admin/export?format=ndjson");
        return new Uri(System.Text.Json.JsonDocument.Parse(export).RootElement.GetProperty("unsubscribe_url").GetString()!);
    }

    Task<string> Status() => Scalar<string>("SELECT status FROM subscriptions");

    [Fact]
    public async Task The_page_shows_a_button_and_changes_nothing()
    {
        var link = await ConfirmedSubscriber("page@example.org");

        var page = await Client.GetAsync(link);

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains(">Unsubscribe</button>", await page.Content.ReadAsStringAsync());
        Assert.Equal("confirmed", await Status());
    }

    [Fact]
    public async Task The_button_unsubscribes_and_records_it_in_the_ledger()
    {
        var link = await ConfirmedSubscriber("button@example.org");

        var response = await Client.PostAsync(link, new FormUrlEncodedContent([]));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("unsubscribed", await response.Content.ReadAsStringAsync());
        Assert.Equal("unsubscribed", await Status());
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'unsubscribed'"));
    }

    [Fact]
    public async Task A_one_click_post_unsubscribes_and_repeats_answer_the_same()
    {
        var link = await ConfirmedSubscriber("oneclick@example.org");
        var body = () => new FormUrlEncodedContent([KeyValuePair.Create("List-Unsubscribe", "One-Click")]);

        var first = await Client.PostAsync(link, body());
        var second = await Client.PostAsync(link, body());

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
        Assert.Equal("unsubscribed", await Status());
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'unsubscribed'"));
    }

    [Fact]
    public async Task Coming_back_needs_a_new_double_opt_in()
    {
        var link = await ConfirmedSubscriber("back@example.org");
        await Client.PostAsync(link, null);

        await Execute("UPDATE outbox SET created_at = created_at - interval '1 hour'");
        await Client.PostAsJsonAsync("/api/subscriptions", new { email = "back@example.org", consent = true });

        Assert.Equal("pending", await Status());
        var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync("back@example.org"));
        Assert.Equal(HttpStatusCode.SeeOther, (await Client.PostAsync(ConfirmationMailTests.ConfirmationLink(mail), null)).StatusCode);
        Assert.Equal("confirmed", await Status());
    }

    [Fact]
    public async Task A_link_reveals_neither_the_subscription_id_nor_how_many_there_are()
    {
        var links = Fixture.App.Services.GetRequiredService<UnsubscribeLinks>();
        var tokens = new List<byte[]>();
        foreach (var id in new long[] { 1, 2, 3, 256, 257 })
        {
            var token = (await links.UrlAsync(id, CancellationToken.None)).Segments[^1];
            Assert.Equal(43, token.Length);
            tokens.Add(Base64Url.DecodeFromChars(token));
        }

        // the old form began with the id's eight bytes (00 00 00 00 00 00 00 01, …): consecutive ids shared
        // seven of them. Now no byte of the encrypted part lines up across ids more than chance would have it.
        var sharedBytes = Enumerable.Range(0, 16).Count(i => tokens.Select(t => t[i]).Distinct().Count() < tokens.Count);
        Assert.True(sharedBytes <= 5, $"{sharedBytes} of 16 bytes repeat across consecutive ids");
        foreach (var token in tokens)
        {
            Assert.False(token.AsSpan(0, 7).IndexOfAnyExcept((byte)0) < 0, "the token starts with the id's zero bytes");
        }
    }

    [Fact]
    public async Task A_link_in_the_old_form_with_the_id_in_clear_keeps_working()
    {
        await ConfirmedSubscriber("old-link@example.org");
        var id = await Scalar<long>("SELECT id FROM subscriptions");
        var key = await Fixture.App.Services.GetRequiredService<ServiceKeys>().KeyAsync(CancellationToken.None);
        var old = UnsubscribeLinks.LegacyToken(id, key);
        Assert.Equal(32, old.Length);

        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync($"/unsubscribe/{old}")).StatusCode);
        Assert.Equal("confirmed", await Status());
        Assert.Equal(HttpStatusCode.OK, (await Client.PostAsync($"/unsubscribe/{old}", null)).StatusCode);
        Assert.Equal("unsubscribed", await Status());
        // another id under the same MAC is a forgery
        var forged = Base64Url.DecodeFromChars(old);
        forged[7] ^= 1;
        Assert.Equal(HttpStatusCode.NotFound, (await Client.PostAsync($"/unsubscribe/{Base64Url.EncodeToString(forged)}", null)).StatusCode);
    }

    [Fact]
    public async Task A_tampered_or_foreign_link_of_the_new_form_gets_404()
    {
        var link = await ConfirmedSubscriber("tamper@example.org");
        var token = Base64Url.DecodeFromChars(link.Segments[^1]);
        foreach (var position in new[] { 0, 8, 15, 16, 31 })
        {
            var tampered = (byte[])token.Clone();
            tampered[position] ^= 0x40;
            Assert.Equal(HttpStatusCode.NotFound, (await Client.PostAsync($"/unsubscribe/{Base64Url.EncodeToString(tampered)}", null)).StatusCode);
        }

        // a token of another purpose (under the same service key) is no unsubscribe link
        var key = await Fixture.App.Services.GetRequiredService<ServiceKeys>().KeyAsync(CancellationToken.None);
        using var other = new IdTokens(key, "manage");
        var id = await Scalar<long>("SELECT id FROM subscriptions");
        Assert.Equal(HttpStatusCode.NotFound, (await Client.PostAsync($"/unsubscribe/{other.Make(id)}", null)).StatusCode);
        Assert.Equal("confirmed", await Status());
    }

    [Theory]
    [InlineData("/unsubscribe/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("/unsubscribe/AAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("/unsubscribe/short")]
    // 32 characters that are not base64url at all
    [InlineData("/unsubscribe/AAAAAAAAAAEAAAAAAAAAAAAAAAAAAAA!")]
    [InlineData("/unsubscribe/AAAAAAAAAAEAAAAAAAAAAAAAAAAAAAA+")]
    [InlineData("/unsubscribe/AAAAAAAAAAEAAAAAAAAAAAAAAAAAAAA%25")]
    [InlineData("/unsubscribe/AAAAAAAAAAEAAAAAAAAAAAAAAAAAA%3D%3D%3D")]
    [InlineData("/unsubscribe/AAAAAAAAAAEAAAAAAAAAAAAAAAAAAAA%20")]
    [InlineData("/unsubscribe/%E2%80%AEAAAAAAAAAEAAAAAAAAAAAAAAAAAAAA")]
    public async Task A_forged_or_broken_link_gets_404(string path)
    {
        using var oneClick = new FormUrlEncodedContent([KeyValuePair.Create("List-Unsubscribe", "One-Click")]);
        using var script = new HttpRequestMessage(HttpMethod.Post, path);
        script.Headers.Accept.ParseAdd("application/json");

        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.PostAsync(path, null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.PostAsync(path, oneClick)).StatusCode);
        var scripted = await Client.SendAsync(script);
        Assert.Equal(HttpStatusCode.NotFound, scripted.StatusCode);
        Assert.Equal("application/problem+json", scripted.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscription_events"));
    }
}
