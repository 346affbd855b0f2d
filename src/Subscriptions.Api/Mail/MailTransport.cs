using Dapper;
using Microsoft.Extensions.Localization;
using Microsoft.Extensions.Options;
using MimeKit;
using Npgsql;
using Subscriptions.Api.Confirmation;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Outbox;

namespace Subscriptions.Api.Mail;

/// <summary>A mail the outbox holds, with what composing it needs.</summary>
public sealed record ClaimedMail(
    long OutboxId, string Kind, long SubscriptionId, string Status, string Locale,
    string EmailAsTyped, string ListName, string? SenderName, string? SenderEmail, string? SuppressedReason, int Attempts,
    string? Traceparent) : IClaimedRow
{
    /// <summary>The confirmation link's token, minted when the batch is prepared (confirmation and reminder mails).</summary>
    public string? Token { get; init; }
}

/// <summary>
/// The outbox's mails over SMTP: confirmation and its reminder (each with a fresh link), and the
/// welcome mail. A mail whose subscription moved on meanwhile (confirmed, unsubscribed), or whose
/// address is suppressed, is not sent. Every mail names its outbox row in X-Subscriptions-Outbox-Id
/// (and in the metadata fields the providers echo back), so that a bounce can be tied to it, and
/// leaves with Smtp__ReturnPath as its envelope sender when one is set.
/// </summary>
public sealed class MailTransport(
    NpgsqlDataSource dataSource,
    PublicLinks links,
    UnsubscribeLinks unsubscribeLinks,
    ManageLinks manageLinks,
    IOptions<SmtpOptions> smtpOptions,
    IOptions<OutboxOptions> outboxOptions,
    IOptions<ConfirmationOptions> confirmationOptions,
    IStringLocalizer<Texts> texts,
    TimeProvider clock) : IOutboxTransport<ClaimedMail>
{
    readonly MailboxAddress _defaultFrom = MailboxAddress.Parse(smtpOptions.Value.From);
    readonly ReturnPath? _returnPath = ReturnPath.Parse(smtpOptions.Value.ReturnPath);

    public OutboxLane Lane => OutboxLane.Mail;

    public int Workers => outboxOptions.Value.SmtpConnections;

    public int Concurrency => 1; // one SMTP connection per worker, one message at a time

    public TimeSpan PauseAfterFailure => outboxOptions.Value.RetryBaseDelay;

    public ValueTask<bool> InUseAsync(CancellationToken cancellationToken) => ValueTask.FromResult(true);

    public async Task<List<ClaimedMail>> ClaimAsync(NpgsqlConnection connection, Guid claim, DateTimeOffset now, DateTimeOffset leaseUntil,
        int batchSize, CancellationToken cancellationToken) =>
        [.. await connection.QueryAsync<ClaimedMail>(new CommandDefinition(OutboxSql.ClaimMail,
            new { claim, now, leaseUntil, batchSize }, cancellationToken: cancellationToken))];

    public IOutboxSender<ClaimedMail> CreateSender() => new Sender(this, new SmtpSender(smtpOptions.Value, outboxOptions.Value, clock));

    sealed class Sender(MailTransport transport, SmtpSender smtp) : IOutboxSender<ClaimedMail>
    {
        /// <summary>
        /// Mints the links of the batch's confirmation mails and stores their hashes before any
        /// mail leaves, so no link can arrive unknown. A crash, or a row taken over by another
        /// worker, leaves an unused hash that simply expires.
        /// </summary>
        public async Task<IReadOnlyList<ClaimedMail>> PrepareAsync(IReadOnlyList<ClaimedMail> batch, CancellationToken cancellationToken)
        {
            var tokens = new List<(byte[] Hash, long SubscriptionId)>();
            var prepared = new List<ClaimedMail>(batch.Count);
            foreach (var mail in batch)
            {
                if (mail is { Kind: "confirmation" or "reminder", Status: "pending", SuppressedReason: null })
                {
                    var (token, hash) = Token.Mint();
                    tokens.Add((hash, mail.SubscriptionId));
                    prepared.Add(mail with { Token = token });
                }
                else
                {
                    prepared.Add(mail);
                }
            }

            if (tokens.Count > 0)
            {
                await transport.StoreTokensAsync(tokens, cancellationToken);
            }

            return prepared;
        }

        public async Task<Delivery> DeliverAsync(ClaimedMail mail, int attempts, CancellationToken cancellationToken)
        {
            if (mail.SuppressedReason is { } reason)
            {
                return Delivery.Dead($"not sent: the address is suppressed ({reason})");
            }

            var wanted = mail.Kind == "welcome" ? "confirmed" : "pending";
            if (mail.Status != wanted)
            {
                return Delivery.Dead($"not sent: the subscription is {mail.Status}");
            }

            if (!MailboxAddress.TryParse(mail.EmailAsTyped, out var to))
            {
                return Delivery.Dead("not sent: MimeKit cannot parse the address");
            }

            var message = await transport.ComposeAsync(mail, to, mail.Token, cancellationToken);
            BounceRouting.Tag(message, mail.OutboxId);
            var needsUtf8 = !mail.EmailAsTyped.Split('@')[0].All(char.IsAscii);
            return await smtp.SendAsync(message, needsUtf8, attempts, cancellationToken, transport._returnPath?.For(mail.OutboxId));
        }

        public ValueTask DisposeAsync() => smtp.DisposeAsync();
    }

    async Task StoreTokensAsync(List<(byte[] Hash, long SubscriptionId)> tokens, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO tokens (hash, subscription_id, purpose, created_at, expires_at)
            SELECT t.hash, t.subscription_id, 'confirm', @now, @expiresAt
            FROM unnest(@hashes, @subscriptionIds) AS t(hash, subscription_id)
            """, new
        {
            hashes = tokens.Select(t => t.Hash).ToArray(),
            subscriptionIds = tokens.Select(t => t.SubscriptionId).ToArray(),
            now,
            expiresAt = now + confirmationOptions.Value.TokenLifetime,
        }, cancellationToken: cancellationToken));
    }

    async Task<MimeMessage> ComposeAsync(ClaimedMail mail, MailboxAddress to, string? token, CancellationToken cancellationToken)
    {
        var from = mail.SenderEmail is { } email ? new MailboxAddress(mail.SenderName ?? mail.ListName, email) : _defaultFrom;
        var now = clock.GetUtcNow();
        if (mail.Kind == "welcome")
        {
            return await WelcomeMail.ComposeAsync(texts, from, to, mail.ListName, mail.Locale,
                await unsubscribeLinks.UrlAsync(mail.SubscriptionId, cancellationToken), await manageLinks.UrlAsync(mail.SubscriptionId, cancellationToken), now);
        }

        return await ConfirmationMail.ComposeAsync(texts, from, to, mail.ListName, mail.Locale, links.Absolute($"{PublicLinks.ConfirmPath}/{token}?lang={Uri.EscapeDataString(mail.Locale)}"),
            confirmationOptions.Value.TokenLifetime, now, reminder: mail.Kind == "reminder");
    }
}
