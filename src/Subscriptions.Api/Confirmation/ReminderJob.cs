using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Outbox;

namespace Subscriptions.Api.Confirmation;

/// <summary>
/// Queues one reminder for each signup still pending <see cref="ConfirmationOptions.ReminderAfter"/>
/// after it was made: a mail with a fresh link, worded as a reminder. A reminder counts against
/// the address's caps like any confirmation mail (an address at its cap is reminded on a later
/// run), and is never queued beside a mail that still waits. The dispatcher sends it only while
/// the subscription is pending; erasure and retention delete it with the subscription. A
/// transaction-level advisory lock lets one instance at a time do it.
/// </summary>
public sealed partial class ReminderJob(
    NpgsqlDataSource dataSource, OutboxSignal signal, IOptions<ConfirmationOptions> options, TimeProvider clock, ILogger<ReminderJob> logger)
    : BackgroundService
{
    const long ReminderLockKey = 0x5355_4253_5245_4D44; // "SUBSREMD"
    const int MaxPerRun = 1000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.ReminderAfter == TimeSpan.Zero)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.Value.ReminderInterval, clock);
        do
        {
            try
            {
                int queued;
                do
                {
                    queued = await QueueRemindersAsync(stoppingToken) ?? 0;
                    if (queued > 0)
                    {
                        signal.Raise(OutboxLane.Mail);
                    }
                }
                while (queued == MaxPerRun);
            }
            catch (NpgsqlException ex)
            {
                LogDatabaseUnavailable(ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <returns>How many reminders were queued, or null when another instance holds the lock.</returns>
    public async Task<int?> QueueRemindersAsync(CancellationToken cancellationToken)
    {
        // a trace of its own, which the reminders' deliveries join
        using var run = Tracing.Source.StartActivity("reminders queue");
        var now = clock.GetUtcNow();
        var settings = options.Value;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (!await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT pg_try_advisory_xact_lock(@ReminderLockKey)", new { ReminderLockKey }, transaction, cancellationToken: cancellationToken)))
        {
            return null;
        }

        var queued = await connection.ExecuteScalarAsync<int>(new CommandDefinition("""
            WITH traced AS (
                SELECT set_config('subscriptions.traceparent', coalesce(@traceparent, ''), true) -- this run's trace, for the mails (0018)
            ),
            due AS (
                SELECT sub.id, sub.subscriber_id FROM subscriptions sub
                WHERE sub.status = 'pending' AND sub.reminded_at IS NULL AND sub.consent_at <= @remindBefore
                  AND NOT EXISTS (SELECT FROM outbox o WHERE o.subscription_id = sub.id AND o.sent_at IS NULL AND o.dead_at IS NULL)
                  -- a suppressed address gets no mail: the dispatcher would only dead-letter the reminder
                  AND NOT EXISTS (SELECT FROM subscribers s JOIN suppressions sup ON sup.email = s.email AND sup.lifted_at IS NULL
                                  WHERE s.id = sub.subscriber_id)
                ORDER BY sub.consent_at
                LIMIT @MaxPerRun
            ),
            mail_to_address AS (
                SELECT due.id, max(o.created_at) AS last_at,
                       count(DISTINCT o.created_at) FILTER (WHERE o.created_at > @now - interval '1 day') AS last_day
                FROM due
                JOIN subscriptions same_address ON same_address.subscriber_id = due.subscriber_id
                LEFT JOIN outbox o ON o.subscription_id = same_address.id
                GROUP BY due.id
            ),
            reminded AS (
                UPDATE subscriptions sub SET reminded_at = @now
                FROM mail_to_address m
                WHERE sub.id = m.id
                  AND (m.last_at IS NULL OR m.last_at <= @now - @resendInterval) AND m.last_day < @dailyLimit
                RETURNING sub.id
            ),
            queued AS (
                INSERT INTO outbox (subscription_id, kind, locale, created_at, due_at)
                SELECT r.id, 'reminder',
                       coalesce((SELECT o.locale FROM outbox o WHERE o.subscription_id = r.id ORDER BY o.id DESC LIMIT 1), 'en'),
                       @now, @now
                FROM reminded r, traced
                ON CONFLICT (subscription_id, kind) WHERE sent_at IS NULL AND dead_at IS NULL DO NOTHING
                RETURNING id
            )
            SELECT count(*) FROM queued
            """, new
        {
            now,
            remindBefore = now - settings.ReminderAfter,
            resendInterval = settings.ResendInterval,
            dailyLimit = settings.DailyLimit,
            MaxPerRun,
            traceparent = Tracing.CurrentTraceparent,
        }, transaction, cancellationToken: cancellationToken));

        await transaction.CommitAsync(cancellationToken);
        run?.SetTag("subscriptions.reminders.queued", queued);
        return queued;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL is unavailable to the reminder job; it tries again at its next run.")]
    partial void LogDatabaseUnavailable(Exception exception);
}
