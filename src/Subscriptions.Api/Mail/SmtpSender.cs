using System.Diagnostics;
using System.Net.Sockets;
using MailKit;
using MailKit.Net.Smtp;
using MimeKit;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Outbox;

namespace Subscriptions.Api.Mail;

/// <summary>
/// One SMTP connection, used by one outbox worker only (SmtpClient is not thread-safe), kept
/// across batches: a connection costs a handshake, and TLS more. Sorts every failure into
/// retry (4xx, refused or broken connections, timeouts) or dead (5xx), and tells apart a
/// failure of the connection or of the relay as a whole (421, 454, authentication), after which
/// the rest of the batch is handed back untried.
/// </summary>
public sealed class SmtpSender(SmtpOptions smtp, OutboxOptions outbox, TimeProvider clock) : IAsyncDisposable
{
    readonly SmtpClient _client = new() { Timeout = (int)smtp.Timeout.TotalMilliseconds };
    DateTimeOffset _usedAt;

    public bool SupportsUtf8 => _client.Capabilities.HasFlag(SmtpCapabilities.UTF8);

    /// <param name="envelopeFrom">The envelope sender (MAIL FROM, where bounces go); null = the From header's.</param>
    public async Task<Delivery> SendAsync(MimeMessage message, bool needsUtf8, int attempts, CancellationToken cancellationToken,
        MailboxAddress? envelopeFrom = null)
    {
        // when traced: the SMTP exchange, child of the outbox delivery's span; the relay, never the recipient
        using var span = Tracing.Source.StartActivity("smtp send", ActivityKind.Client);
        span?.SetTag("server.address", smtp.Host).SetTag("server.port", smtp.Port);
        var delivery = await SendOnceAsync(message, needsUtf8, attempts, envelopeFrom, cancellationToken);
        if (delivery.Error is not null)
        {
            span?.SetStatus(ActivityStatusCode.Error);
        }

        return delivery;
    }

    async Task<Delivery> SendOnceAsync(MimeMessage message, bool needsUtf8, int attempts, MailboxAddress? envelopeFrom, CancellationToken cancellationToken)
    {
        try
        {
            await RefreshAsync(cancellationToken);
            if (!_client.IsConnected)
            {
                await _client.ConnectAsync(smtp.Host!, smtp.Port, smtp.SocketOptions, cancellationToken);
                if (!string.IsNullOrEmpty(smtp.Username))
                {
                    await _client.AuthenticateAsync(smtp.Username, smtp.Password ?? string.Empty, cancellationToken);
                }
            }

            if (needsUtf8 && !SupportsUtf8)
            {
                return Delivery.Dead("the address needs SMTPUTF8, which the SMTP server does not offer");
            }

            if (envelopeFrom is null)
            {
                await _client.SendAsync(message, cancellationToken);
            }
            else
            {
                await _client.SendAsync(message, envelopeFrom, message.To.Mailboxes, cancellationToken);
            }

            _usedAt = clock.GetUtcNow();
            return Delivery.Sent;
        }
        catch (SmtpCommandException ex) when (IsTheRelays(ex.StatusCode))
        {
            await DisconnectQuietlyAsync();
            return Delivery.Failed($"{(int)ex.StatusCode} {ex.Message}", attempts, outbox.MaxAttempts, giveUpBatch: true);
        }
        catch (SmtpCommandException ex) when ((int)ex.StatusCode >= 500)
        {
            return Delivery.Dead($"{(int)ex.StatusCode} {ex.Message}");
        }
        catch (SmtpCommandException ex)
        {
            // any other 4xx is about this message (greylisting, a full mailbox): the connection is fine
            return Delivery.Failed($"{(int)ex.StatusCode} {ex.Message}", attempts, outbox.MaxAttempts);
        }
        catch (Exception ex) when (ex is SmtpProtocolException or IOException or SocketException or TimeoutException
            or OperationCanceledException or MailKit.Security.AuthenticationException or ServiceNotConnectedException
            or ServiceNotAuthenticatedException or MailKit.Security.SslHandshakeException or MailKit.Security.SaslException
            or NotSupportedException)
        {
            // the connection failed (refused, broken, silent, cancelled; a 530 to MAIL FROM: the relay wants
            // credentials; TLS refused, an expired certificate, STARTTLS or AUTH not offered): it is reopened next time
            await DisconnectQuietlyAsync();
            if (ex is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            return Delivery.Failed($"{ex.GetType().Name}: {ex.Message}", attempts, outbox.MaxAttempts, giveUpBatch: true);
        }
    }

    /// <summary>
    /// A reply that is about the relay, not the message: every other would get the same, so the
    /// batch goes back untried rather than each queued mail spending an attempt on it (or, for a
    /// 5xx, being dead-lettered). 421: the relay closes the connection (busy, too many connections,
    /// throttled); 454: TLS or authentication unavailable for now, or a sending rate exceeded
    /// (Amazon SES); 530, 534, 535, 538: the relay wants credentials (other ones, a stronger
    /// mechanism, TLS first): its configuration, which the operator fixes while the mail waits.
    /// </summary>
    static bool IsTheRelays(SmtpStatusCode reply) => reply is SmtpStatusCode.ServiceNotAvailable
        or SmtpStatusCode.TemporaryAuthenticationFailure or SmtpStatusCode.AuthenticationRequired
        or SmtpStatusCode.AuthenticationMechanismTooWeak or SmtpStatusCode.AuthenticationInvalidCredentials
        or SmtpStatusCode.EncryptionRequiredForAuthenticationMechanism;

    /// <summary>
    /// A connection idle past <see cref="OutboxOptions.ConnectionIdleTimeout"/> is closed, one the
    /// server dropped is found by a NOOP; either way the next send connects afresh.
    /// </summary>
    async Task RefreshAsync(CancellationToken cancellationToken)
    {
        if (!_client.IsConnected || clock.GetUtcNow() - _usedAt < TimeSpan.FromSeconds(1))
        {
            return; // connected within the last second: sending on is the check
        }

        try
        {
            if (clock.GetUtcNow() - _usedAt < outbox.ConnectionIdleTimeout)
            {
                await _client.NoOpAsync(cancellationToken);
                return;
            }
        }
        catch (Exception ex) when (ex is SmtpCommandException or SmtpProtocolException or IOException or SocketException
            or TimeoutException or OperationCanceledException)
        {
            // fall through: reconnect (or, when cancelled, fail the send that follows)
        }

        await DisconnectQuietlyAsync();
    }

    async Task DisconnectQuietlyAsync()
    {
        if (_client.IsConnected)
        {
            try
            {
                await _client.DisconnectAsync(false, CancellationToken.None);
            }
            catch (Exception ex) when (ex is IOException or SocketException or SmtpProtocolException)
            {
                // already broken
            }
        }
    }

    /// <summary>Says QUIT if the connection still allows it, without letting a stuck server hold up shutdown.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await _client.DisconnectAsync(true, timeout.Token);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // the connection was already broken (e.g. an operation cancelled by the shutdown)
            }
        }

        _client.Dispose();
    }
}
