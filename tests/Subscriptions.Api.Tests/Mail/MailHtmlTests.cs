using System.Net;
using System.Net.Http.Json;
using MimeKit;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Mail;

/// <summary>The mails' HTML part is a template that encodes what it is given: a hostile list name stays text.</summary>
public class MailHtmlTests(ApiFixture fixture) : ApiTest(fixture)
{
    const string HostileListName = "\"><script>alert('list')</script><img src=x onerror=alert(1)> & Co";

    async Task<List<MimeMessage>> MailsTo(string address) =>
        [.. (await Fixture.Mail.MessagesAsync()).Where(m => m.To.Mailboxes.Single().Address == address)];

    static void AssertEscaped(MimeMessage mail)
    {
        Assert.DoesNotContain("<script", mail.HtmlBody, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", mail.HtmlBody, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("&lt;script&gt;", mail.HtmlBody, StringComparison.Ordinal);
        Assert.Contains("&amp; Co", mail.HtmlBody, StringComparison.Ordinal);
        // the text part is plain text: the name as it is
        Assert.Contains(HostileListName, mail.TextBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_confirmation_and_welcome_mails_encode_a_hostile_list_name_and_carry_no_name_the_request_wrote()
    {
        await Execute("""
            INSERT INTO lists (slug, name, consent_text, consent_text_version, welcome) VALUES ('hostile', @name, 'I agree.', '1', true)
            """, new { name = HostileListName });
        const string hostileName = "<iframe src=//evil.example></iframe>";

        Assert.Equal(HttpStatusCode.Accepted, (await Client.PostAsJsonAsync("/api/subscriptions",
            new { email = "target@example.org", consent = true, lists = new[] { "hostile" }, name = hostileName })).StatusCode);
        var confirmation = Assert.Single(await Fixture.Mail.WaitForMailToAsync("target@example.org"));
        AssertEscaped(confirmation);
        Assert.DoesNotContain("evil.example", confirmation.HtmlBody + confirmation.TextBody, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.SeeOther, (await Client.PostAsync(ConfirmationMailTests.ConfirmationLink(confirmation).PathAndQuery, null)).StatusCode);
        await Eventually.TrueAsync(async () => (await MailsTo("target@example.org")).Count == 2, TimeSpan.FromSeconds(10), "the welcome mail");
        var welcome = Assert.Single(await MailsTo("target@example.org"), m => m.MessageId != confirmation.MessageId);
        AssertEscaped(welcome);
        Assert.DoesNotContain("evil.example", welcome.HtmlBody + welcome.TextBody, StringComparison.Ordinal);
    }
}
