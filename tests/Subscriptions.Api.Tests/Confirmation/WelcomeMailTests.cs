using System.Net;
using System.Net.Http.Json;
using MimeKit;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Confirmation;

public class WelcomeMailTests(ApiFixture fixture) : ApiTest(fixture)
{
    async Task<List<MimeMessage>> MailsTo(string address) =>
        [.. (await Fixture.Mail.MessagesAsync()).Where(m => m.To.Mailboxes.Single().Address == address)];

    async Task<MimeMessage> SignUpAndConfirm(string email, string list)
    {
        await Client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true, lists = new[] { list } });
        var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync(email));
        Assert.Equal(HttpStatusCode.SeeOther, (await Client.PostAsync(ConfirmationMailTests.ConfirmationLink(mail).PathAndQuery, null)).StatusCode);
        return mail;
    }

    [Fact]
    public async Task A_list_with_a_welcome_mail_sends_it_once_on_confirmation_from_its_sender_with_one_click_unsubscribe()
    {
        using var admin = AdminClient();
        var created = await admin.PostAsJsonAsync("/api/admin/lists", new
        {
            slug = "weekly", name = "The Weekly", senderName = "Weekly Desk", senderEmail = "weekly@news.example",
            consentText = "Yes, send me The Weekly.", consentTextVersion = "1", welcome = true,
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        var confirmation = await SignUpAndConfirm("welcomed@example.org", "weekly");
        await Eventually.TrueAsync(async () => (await MailsTo("welcomed@example.org")).Count == 2, TimeSpan.FromSeconds(10), "the welcome mail");
        var welcome = Assert.Single(await MailsTo("welcomed@example.org"), m => m.MessageId != confirmation.MessageId);

        Assert.Equal("Welcome to The Weekly", welcome.Subject);
        Assert.Equal("\"Weekly Desk\" <weekly@news.example>", welcome.From.ToString());
        Assert.Equal("List-Unsubscribe=One-Click", welcome.Headers["List-Unsubscribe-Post"]);
        var unsubscribe = new Uri(welcome.Headers[HeaderId.ListUnsubscribe]!.Trim('<', '>'));
        Assert.Contains(unsubscribe.AbsoluteUri, welcome.TextBody, StringComparison.Ordinal);
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'welcome_sent'"));

        // the mail client's RFC 8058 one-click POST
        var oneClick = await Client.PostAsync(unsubscribe.PathAndQuery,
            new FormUrlEncodedContent([new("List-Unsubscribe", "One-Click")]));
        Assert.Equal(HttpStatusCode.OK, oneClick.StatusCode);
        Assert.Equal("unsubscribed", await Scalar<string>("SELECT status FROM subscriptions"));
    }

    [Fact]
    public async Task A_list_without_a_welcome_mail_sends_none()
    {
        await SignUpAndConfirm("unwelcomed@example.org", "news");
        await Task.Delay(1500);

        Assert.Single(await MailsTo("unwelcomed@example.org"));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM outbox WHERE kind = 'welcome'"));
    }
}
