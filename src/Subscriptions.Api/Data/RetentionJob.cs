using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Subscriptions.Api.Data;

public sealed class RetentionOptions
{
    public const string Section = "Retention";

    /// <summary>Pending subscriptions never confirmed are deleted after this many days.</summary>
    public int PendingDays { get; set; } = 30;

    /// <summary>Sent or dead-lettered mail, and spent or expired tokens, are deleted after this many days.</summary>
    public int MailDays { get; set; } = 7;

    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>
/// Deletes what the service no longer needs: unconfirmed signups past their time (leaving a
/// 'purged' ledger event without personal data), subscribers left with no subscription, old
/// mail and dead tokens. A transaction-level advisory lock lets one instance at a time do it.
/// </summary>
public sealed partial class RetentionJob(
    NpgsqlDataSource dataSource, IOptions<RetentionOptions> options, TimeProvider clock, ILogger<RetentionJob> logger) : BackgroundService
{
    const long RetentionLockKey = 0x5355_4253_5245_544E; // "SUBSRETN"

    public sealed record Purged(long Subscriptions, long Subscribers, long Mail, long Tokens);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Interval, clock);
        do
        {
            try
            {
                var purged = await PurgeAsync(stoppingToken);
                if (purged is { } p && p.Subscriptions + p.Subscribers + p.Mail + p.Tokens > 0)
                {
                    LogPurged(p.Subscriptions, p.Subscribers, p.Mail, p.Tokens);
                }
            }
            catch (NpgsqlException ex)
            {
                LogDatabaseUnavailable(ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <returns>What was deleted, or null when another instance holds the lock.</returns>
    public async Task<Purged?> PurgeAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (!await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT pg_try_advisory_xact_lock(@RetentionLockKey)", new { RetentionLockKey }, transaction, cancellationToken: cancellationToken)))
        {
            return null;
        }

        var purged = await connection.QuerySingleAsync<Purged>(new CommandDefinition("""
            WITH expired AS (
                DELETE FROM subscriptions WHERE status IN ('pending', 'held') AND consent_at < @pendingBefore
                RETURNING id, list_id, subscriber_id
            ),
            blanked AS (
                UPDATE subscription_events e SET ip = NULL, user_agent = NULL, source = NULL
                FROM expired WHERE e.subscription_id = expired.id
            ),
            recorded AS (
                INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at)
                SELECT NULL, list_id, 'purged', @now FROM expired
            ),
            orphans AS (
                DELETE FROM subscribers s
                WHERE s.id IN (SELECT subscriber_id FROM expired)
                  AND NOT EXISTS (SELECT 1 FROM subscriptions sub WHERE sub.subscriber_id = s.id AND sub.id NOT IN (SELECT id FROM expired))
                RETURNING s.id
            ),
            old_mail AS (
                DELETE FROM outbox WHERE (sent_at < @mailBefore OR dead_at < @mailBefore)
                RETURNING id
            ),
            old_tokens AS (
                DELETE FROM tokens WHERE expires_at < @mailBefore OR used_at < @mailBefore
                RETURNING hash
            ),
            -- providers' reports name addresses: kept as long as mail, and the 7 days soft bounces count over
            old_bounces AS (
                DELETE FROM bounce_events WHERE received_at < @bouncesBefore
            )
            SELECT (SELECT count(*) FROM expired) AS Subscriptions, (SELECT count(*) FROM orphans) AS Subscribers,
                   (SELECT count(*) FROM old_mail) AS Mail, (SELECT count(*) FROM old_tokens) AS Tokens
            """, new
        {
            now,
            pendingBefore = now.AddDays(-options.Value.PendingDays),
            mailBefore = now.AddDays(-options.Value.MailDays),
            bouncesBefore = now.AddDays(-Math.Max(7, options.Value.MailDays)),
        }, transaction, cancellationToken: cancellationToken));

        await transaction.CommitAsync(cancellationToken);
        return purged;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention purged {Subscriptions} unconfirmed subscriptions, {Subscribers} subscribers, {Mail} old mails, {Tokens} tokens.")]
    partial void LogPurged(long subscriptions, long subscribers, long mail, long tokens);

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL is unavailable to the retention job; it tries again at its next run.")]
    partial void LogDatabaseUnavailable(Exception exception);
}
