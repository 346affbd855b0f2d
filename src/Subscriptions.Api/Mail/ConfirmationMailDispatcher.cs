using System.Net.Sockets;
using Dapper;
using MailKit;
using MailKit.Net.Smtp;
using Microsoft.Extensions.Options;
using MimeKit;
using Npgsql;
using Subscriptions.Api.Confirmation;
using Subscriptions.Api.Hosting;

namespace Subscriptions.Api.Mail;

/// <summary>
/// Sends the outbox's confirmation mails. Wakes when a signup of this instance queued mail (see
/// <see cref="OutboxSignal"/>), when a retry falls due, or at the poll interval; claims due
/// messages with FOR UPDATE SKIP LOCKED and a lease so that any number of instances can run,
/// sends a batch over one SMTP connection, and records each outcome: sent; retry later with
/// exponential backoff and jitter; or dead-lettered with the last error.
/// <see cref="OutboxOptions.SmtpConnections"/> workers do this side by side, each with its own
/// connection, so one's database work and mail composition overlap another's SMTP conversation.
/// </summary>
public sealed partial class ConfirmationMailDispatcher(
    NpgsqlDataSource dataSource,
    OutboxSignal signal,
    PublicLinks links,
    IOptions<SmtpOptions> smtpOptions,
    IOptions<OutboxOptions> outboxOptions,
    IOptions<ConfirmationOptions> confirmationOptions,
    SubscriptionsMetrics metrics,
    TimeProvider clock,
    ILogger<ConfirmationMailDispatcher> logger) : BackgroundService
{
    readonly SmtpOptions _smtp = smtpOptions.Value;
    readonly OutboxOptions _outbox = outboxOptions.Value;
    readonly MailboxAddress _defaultFrom = MailboxAddress.Parse(smtpOptions.Value.From);

    /// <summary>A worker's SMTP connection: only that worker uses it (SmtpClient is not thread-safe).</summary>
    sealed class Connection(TimeSpan timeout) : IDisposable
    {
        public SmtpClient Client { get; } = new() { Timeout = (int)timeout.TotalMilliseconds };

        public DateTimeOffset UsedAt { get; set; }

        public void Dispose() => Client.Dispose();
    }

    sealed record ClaimedMail(
        long OutboxId, int Attempts, long SubscriptionId, string Status, string Locale,
        string EmailAsTyped, string ListName, string? SenderName, string? SenderEmail);

    enum Result { Sent, Retry, Dead }

    sealed record Outcome(long OutboxId, int Attempts, Result Result, string? Error);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (string.IsNullOrWhiteSpace(_smtp.Host))
        {
            LogNoSmtpHost();
            return;
        }

        await Task.WhenAll(Enumerable.Range(0, _outbox.SmtpConnections).Select(_ => WorkAsync(stoppingToken)));
    }

    async Task WorkAsync(CancellationToken stoppingToken)
    {
        using var connection = new Connection(_smtp.Timeout);
        try
        {
            await DispatchUntilStoppedAsync(connection, stoppingToken);
        }
        finally
        {
            await CloseConnectionAsync(connection);
        }
    }

    async Task DispatchUntilStoppedAsync(Connection connection, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var claimed = await DispatchBatchAsync(connection, stoppingToken);
                if (claimed < _outbox.BatchSize)
                {
                    await signal.WaitAsync(await NextWakeAsync(stoppingToken), stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (NpgsqlException ex)
            {
                LogDatabaseUnavailable(ex);
                await PauseAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A bug must not stop the host (a BackgroundService's failure would): log it, carry on.
                LogUnexpected(ex);
                await PauseAsync(stoppingToken);
            }
        }
    }

    static Task PauseAsync(CancellationToken stoppingToken) =>
        Task.Delay(TimeSpan.FromSeconds(5), stoppingToken).ContinueWith(_ => { }, CancellationToken.None);

    /// <summary>
    /// Sleep until the poll interval ends or the next retry falls due, whichever is first. The
    /// same look at the outbox feeds its depth and age metrics.
    /// </summary>
    async Task<TimeSpan> NextWakeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var (waiting, oldest, nextDue) = await connection.QuerySingleAsync<(long, DateTime?, DateTime?)>(new CommandDefinition("""
            SELECT count(*), min(created_at), min(greatest(due_at, locked_until))
            FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL
            """, cancellationToken: cancellationToken));
        var now = clock.GetUtcNow().UtcDateTime;
        metrics.Outbox(waiting, oldest is { } created ? now - created : TimeSpan.Zero);
        var untilDue = nextDue is { } due ? due - now : _outbox.PollInterval;
        return TimeSpan.FromMilliseconds(Math.Clamp(untilDue.TotalMilliseconds, 10, _outbox.PollInterval.TotalMilliseconds));
    }

    /// <returns>How many messages were claimed.</returns>
    async Task<int> DispatchBatchAsync(Connection connection, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        List<ClaimedMail> batch;
        await using (var database = await dataSource.OpenConnectionAsync(cancellationToken))
        {
            batch = (await database.QueryAsync<ClaimedMail>(new CommandDefinition("""
                WITH due AS (
                    SELECT id FROM outbox
                    WHERE sent_at IS NULL AND dead_at IS NULL AND due_at <= @now
                      AND (locked_until IS NULL OR locked_until < @now)
                    ORDER BY due_at
                    LIMIT @BatchSize
                    FOR UPDATE SKIP LOCKED
                ),
                claimed AS (
                    UPDATE outbox o SET locked_until = @leaseUntil, attempts = o.attempts + 1
                    FROM due WHERE o.id = due.id
                    RETURNING o.id, o.subscription_id, o.attempts, o.locale
                )
                SELECT c.id AS OutboxId, c.attempts AS Attempts, c.subscription_id AS SubscriptionId,
                       sub.status AS Status, c.locale AS Locale, s.email_as_typed AS EmailAsTyped,
                       l.name AS ListName, l.sender_name AS SenderName, l.sender_email AS SenderEmail
                FROM claimed c
                JOIN subscriptions sub ON sub.id = c.subscription_id
                JOIN subscribers s ON s.id = sub.subscriber_id
                JOIN lists l ON l.id = sub.list_id
                """, new { now, leaseUntil = now + _outbox.Lease, _outbox.BatchSize }, cancellationToken: cancellationToken))).ToList();
        }

        if (batch.Count == 0)
        {
            return 0;
        }

        if (batch.Count == _outbox.BatchSize)
        {
            signal.Raise(); // there may be more: a sleeping worker can take the next batch meanwhile
        }

        var outcomes = await SendAsync(connection, batch, now, cancellationToken);
        await RecordAsync(outcomes);
        return batch.Count;
    }

    async Task<List<Outcome>> SendAsync(Connection connection, List<ClaimedMail> batch, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var outcomes = new List<Outcome>(batch.Count);
        var toSend = new List<(ClaimedMail Mail, MimeMessage Message)>();
        var tokens = new List<(byte[] Hash, long SubscriptionId)>();
        foreach (var mail in batch)
        {
            if (mail.Status != "pending")
            {
                outcomes.Add(new(mail.OutboxId, mail.Attempts, Result.Dead, $"not sent: the subscription is {mail.Status}"));
                continue;
            }

            if (!MailboxAddress.TryParse(mail.EmailAsTyped, out var to))
            {
                outcomes.Add(new(mail.OutboxId, mail.Attempts, Result.Dead, "not sent: MimeKit cannot parse the address"));
                continue;
            }

            var (token, hash) = Token.Mint();
            tokens.Add((hash, mail.SubscriptionId));
            toSend.Add((mail, ConfirmationMail.Compose(
                From(mail), to, mail.ListName, mail.Locale, links.Absolute($"{ConfirmationEndpoints.Path}/{token}"), confirmationOptions.Value.TokenLifetime, now)));
        }

        if (toSend.Count > 0)
        {
            // The token's hash is stored before its mail leaves, so no link can arrive unknown.
            // A crash between the two leaves an unused hash that simply expires.
            await StoreTokensAsync(tokens, now, cancellationToken);
            outcomes.AddRange(await DeliverAsync(connection, toSend, cancellationToken));
        }

        return outcomes;
    }

    async Task<List<Outcome>> DeliverAsync(
        Connection connection, List<(ClaimedMail Mail, MimeMessage Message)> toSend, CancellationToken cancellationToken)
    {
        await RefreshConnectionAsync(connection, cancellationToken);
        var outcomes = new List<Outcome>(toSend.Count);
        foreach (var (mail, message) in toSend)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                // shutting down: hand the rest back at once rather than after the lease
                outcomes.Add(new(mail.OutboxId, mail.Attempts, Result.Retry, null));
                continue;
            }

            outcomes.Add(await DeliverOneAsync(connection.Client, mail, message, cancellationToken));
        }

        connection.UsedAt = clock.GetUtcNow();
        return outcomes;
    }

    /// <summary>
    /// The SMTP connection outlives a batch (a connection costs a handshake, and TLS more): one
    /// idle past <see cref="OutboxOptions.ConnectionIdleTimeout"/> is closed, one the server
    /// dropped is found by a NOOP; either way the next send connects afresh.
    /// </summary>
    async Task RefreshConnectionAsync(Connection connection, CancellationToken cancellationToken)
    {
        if (!connection.Client.IsConnected)
        {
            return;
        }

        try
        {
            if (clock.GetUtcNow() - connection.UsedAt < _outbox.ConnectionIdleTimeout)
            {
                await connection.Client.NoOpAsync(cancellationToken);
                return;
            }
        }
        catch (Exception ex) when (ex is SmtpCommandException or SmtpProtocolException or IOException or SocketException
            or TimeoutException or OperationCanceledException)
        {
            // fall through: reconnect (or, when shutting down, leave the batch to be handed back)
        }

        await connection.Client.DisconnectAsync(false, CancellationToken.None);
    }

    /// <summary>Says QUIT if the connection still allows it, without letting a stuck server hold up shutdown.</summary>
    static async Task CloseConnectionAsync(Connection connection)
    {
        if (!connection.Client.IsConnected)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await connection.Client.DisconnectAsync(true, timeout.Token);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // the connection was already broken (e.g. an operation cancelled by the shutdown)
        }
    }

    async Task<Outcome> DeliverOneAsync(SmtpClient client, ClaimedMail mail, MimeMessage message, CancellationToken cancellationToken)
    {
        try
        {
            if (!client.IsConnected)
            {
                await client.ConnectAsync(_smtp.Host!, _smtp.Port, _smtp.SocketOptions, cancellationToken);
                if (!string.IsNullOrEmpty(_smtp.Username))
                {
                    await client.AuthenticateAsync(_smtp.Username, _smtp.Password ?? string.Empty, cancellationToken);
                }
            }

            if (!mail.EmailAsTyped.Split('@')[0].All(char.IsAscii) && !client.Capabilities.HasFlag(SmtpCapabilities.UTF8))
            {
                return new(mail.OutboxId, mail.Attempts, Result.Dead, "the address needs SMTPUTF8, which the SMTP server does not offer");
            }

            await client.SendAsync(message, cancellationToken);
            return new(mail.OutboxId, mail.Attempts, Result.Sent, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // shutting down mid-send: the message goes back to the queue, due at once
            return new(mail.OutboxId, mail.Attempts, Result.Retry, null);
        }
        catch (SmtpCommandException ex) when ((int)ex.StatusCode >= 500)
        {
            return new(mail.OutboxId, mail.Attempts, Result.Dead, $"{(int)ex.StatusCode} {ex.Message}");
        }
        catch (Exception ex) when (ex is SmtpCommandException or SmtpProtocolException or IOException or SocketException
            or TimeoutException or OperationCanceledException or MailKit.Security.AuthenticationException or ServiceNotConnectedException)
        {
            // transient: 4xx replies, refused or broken connections, timeouts. A broken
            // connection is reopened for the next message of the batch.
            if (ex is not SmtpCommandException && client.IsConnected)
            {
                await client.DisconnectAsync(false, CancellationToken.None);
            }

            var error = ex is SmtpCommandException command ? $"{(int)command.StatusCode} {ex.Message}" : $"{ex.GetType().Name}: {ex.Message}";
            return new(mail.OutboxId, mail.Attempts, mail.Attempts >= _outbox.MaxAttempts ? Result.Dead : Result.Retry, error);
        }
    }

    MailboxAddress From(ClaimedMail mail) =>
        mail.SenderEmail is { } email ? new MailboxAddress(mail.SenderName ?? mail.ListName, email) : _defaultFrom;

    async Task StoreTokensAsync(List<(byte[] Hash, long SubscriptionId)> tokens, DateTimeOffset now, CancellationToken cancellationToken)
    {
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

    // Outcomes are written even while shutting down: a lost write would only mean a resend.
    async Task RecordAsync(List<Outcome> outcomes)
    {
        var now = clock.GetUtcNow();
        foreach (var outcome in outcomes.Where(o => o.Error is not null || o.Result == Result.Sent))
        {
            metrics.Mail(outcome.Result switch { Result.Sent => "sent", Result.Dead => "dead_lettered", _ => "failed" });
        }

        foreach (var failed in outcomes.Where(o => o.Result != Result.Sent && o.Error is not null))
        {
            // the reason stays in outbox.last_error: server replies can quote the address
            LogNotSent(failed.OutboxId, failed.Attempts, failed.Result == Result.Dead ? "dead-lettered" : "will retry");
        }

        await using var connection = await dataSource.OpenConnectionAsync(CancellationToken.None);
        await connection.ExecuteAsync("""
            WITH outcome AS (
                SELECT * FROM unnest(@ids, @results, @errors, @retryAts) AS o(id, result, error, retry_at)
            ),
            recorded AS (
                UPDATE outbox SET
                    sent_at = CASE WHEN o.result = 'Sent' THEN @now END,
                    dead_at = CASE WHEN o.result = 'Dead' THEN @now END,
                    due_at = CASE WHEN o.result = 'Retry' THEN o.retry_at ELSE outbox.due_at END,
                    last_error = coalesce(o.error, outbox.last_error),
                    locked_until = NULL
                FROM outcome o
                WHERE outbox.id = o.id
                RETURNING outbox.subscription_id, o.result
            )
            INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at)
            SELECT r.subscription_id, s.list_id, 'confirmation_sent', @now
            FROM recorded r JOIN subscriptions s ON s.id = r.subscription_id
            WHERE r.result = 'Sent'
            """, new
        {
            ids = outcomes.Select(o => o.OutboxId).ToArray(),
            results = outcomes.Select(o => o.Result.ToString()).ToArray(),
            errors = outcomes.Select(o => o.Error).ToArray(),
            retryAts = outcomes.Select(o => o.Error is null ? now : now + Backoff(o)).ToArray(),
            now,
        });
    }

    /// <summary>Exponential backoff with "equal jitter": half the delay fixed, half random.</summary>
    TimeSpan Backoff(Outcome outcome)
    {
        var exponential = _outbox.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Clamp(outcome.Attempts - 1, 0, 30));
        var delay = Math.Min(exponential, _outbox.RetryMaxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(delay / 2 + Random.Shared.NextDouble() * delay / 2);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Smtp__Host is not set: confirmation mails wait in the outbox until it is.")]
    partial void LogNoSmtpHost();

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL is unavailable to the mail dispatcher; retrying in 5 s.")]
    partial void LogDatabaseUnavailable(Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "The mail dispatcher failed unexpectedly; it carries on in 5 s.")]
    partial void LogUnexpected(Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox message {OutboxId} not sent on attempt {Attempts}; {Disposition}.")]
    partial void LogNotSent(long outboxId, int attempts, string disposition);
}
