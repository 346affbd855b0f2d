using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Dapper;
using MimeKit;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Confirmation;

public partial class ConfirmationMailTests(ApiFixture fixture) : ApiTest(fixture)
{
    async Task<MimeMessage> SignUpAndReceive(string email, object? extra = null, string? acceptLanguage = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/subscriptions")
        {
            Content = JsonContent.Create(extra ?? new { email, consent = true }),
        };
        if (acceptLanguage is not null)
        {
            request.Headers.AcceptLanguage.ParseAdd(acceptLanguage);
        }

        Assert.Equal(HttpStatusCode.Accepted, (await Client.SendAsync(request)).StatusCode);
        return Assert.Single(await Fixture.Mail.WaitForMailToAsync(email));
    }

    [Fact]
    public async Task Signup_sends_a_multipart_confirmation_mail_with_the_link()
    {
        await using (var connection = await Database.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("""
                INSERT INTO lists (slug, name, sender_name, sender_email, consent_text, consent_text_version)
                VALUES ('weekly', 'Tom & Jerry <Weekly>', 'The Desk', 'desk@news.example', 'I agree', '1')
                """);
        }

        var message = await SignUpAndReceive("Reader@Example.org",
            new { email = "Reader@Example.org", consent = true, lists = new[] { "weekly" }, name = "Buy cheap pills at spam.example" });

        Assert.Equal("desk@news.example", message.From.Mailboxes.Single().Address);
        Assert.Equal("The Desk", message.From.Mailboxes.Single().Name);
        Assert.Equal("Reader@Example.org", message.To.Mailboxes.Single().Address);
        Assert.False(string.IsNullOrEmpty(message.MessageId));
        Assert.EndsWith("@news.example", message.MessageId);
        Assert.InRange(message.Date, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.Equal("Confirm your subscription to Tom & Jerry <Weekly>", message.Subject);
        Assert.Equal("auto-generated", message.Headers["Auto-Submitted"]);

        var alternative = Assert.IsType<MultipartAlternative>(message.Body);
        Assert.Equal(["text/plain", "text/html"], alternative.Select(p => p.ContentType.MimeType));
        var link = ConfirmationLink(message);
        Assert.StartsWith(Fixture.App.BaseAddress.AbsoluteUri + "confirm/", link.AbsoluteUri);
        Assert.Contains(link.AbsoluteUri, message.HtmlBody);
        Assert.Contains("Tom &amp; Jerry &lt;Weekly&gt;", message.HtmlBody);
        Assert.DoesNotContain("<Weekly>", message.HtmlBody);

        // nothing the request wrote travels in the mail, except the address it goes to
        Assert.DoesNotContain("spam.example", message.TextBody + message.HtmlBody);
    }

    [Theory]
    [InlineData("de", null, "Bitte bestätigen Sie Ihr Abonnement: News")]
    [InlineData("fr-CA", null, "Confirmez votre abonnement\u00a0: News")] // a no-break space before the colon, as French typography wants
    [InlineData(null, "fr-FR,fr;q=0.9,en;q=0.5", "Confirmez votre abonnement\u00a0: News")]
    [InlineData(null, "ja,de;q=0.8", "Bitte bestätigen Sie Ihr Abonnement: News")]
    [InlineData("ja", "ko", "Confirm your subscription to News")]
    public async Task The_mail_is_written_in_the_readers_language_when_we_have_it(string? locale, string? acceptLanguage, string subject)
    {
        var message = await SignUpAndReceive("polyglot@example.org",
            new { email = "polyglot@example.org", consent = true, locale }, acceptLanguage);

        Assert.Equal(subject, message.Subject);
    }

    [Fact]
    public async Task A_utf8_local_part_is_delivered_over_smtputf8()
    {
        var message = await SignUpAndReceive("δοκιμή@παράδειγμα.example");

        Assert.Contains("/confirm/", message.TextBody);
    }

    [Fact]
    public async Task The_stored_token_is_a_hash_and_never_the_token_in_the_link()
    {
        var link = ConfirmationLink(await SignUpAndReceive("hash@example.org"));
        var token = link.Segments[^1];

        await using var connection = await Database.OpenConnectionAsync();
        var (hash, lifetime) = await connection.QuerySingleAsync<(byte[], TimeSpan)>(
            "SELECT hash, expires_at - created_at FROM tokens");
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(Convert.FromBase64String(
            token.Replace('-', '+').Replace('_', '/') + "=")), hash);
        Assert.Equal(TimeSpan.FromDays(7), lifetime);
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("""
            SELECT count(*) FROM (
                SELECT t::text FROM tokens t UNION ALL SELECT o::text FROM outbox o
                UNION ALL SELECT e::text FROM subscription_events e UNION ALL SELECT s::text FROM subscriptions s
            ) AS stored(row) WHERE strpos(row, @token) > 0
            """, new { token }));
    }

    public static Uri ConfirmationLink(MimeMessage message) =>
        new(Link().Match(message.TextBody ?? string.Empty).Value);

    [GeneratedRegex(@"https?://\S+/confirm/[A-Za-z0-9_-]{43}")]
    private static partial Regex Link();
}
