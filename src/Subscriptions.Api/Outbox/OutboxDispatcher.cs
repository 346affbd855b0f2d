using Microsoft.Extensions.Options;
using Npgsql;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Mail;
using Subscriptions.Api.Webhooks;

namespace Subscriptions.Api.Outbox;

/// <summary>
/// Works the outbox: <see cref="OutboxOptions.SmtpConnections"/> mail workers, each with its own
/// SMTP connection, and <see cref="OutboxOptions.WebhookWorkers"/> webhook workers, all running
/// the same loop (<see cref="OutboxWorker{TRow}"/>). Any number of instances can run side by side.
/// </summary>
public sealed partial class OutboxDispatcher(
    MailTransport mail,
    WebhookTransport webhooks,
    NpgsqlDataSource dataSource,
    OutboxSignal signal,
    IOptions<SmtpOptions> smtpOptions,
    IOptions<OutboxOptions> outboxOptions,
    SubscriptionsMetrics metrics,
    TimeProvider clock,
    ILogger<OutboxDispatcher> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var workers = Run(webhooks, stoppingToken).Append(ObserveDepthAsync(stoppingToken));
        if (string.IsNullOrWhiteSpace(smtpOptions.Value.Host))
        {
            LogNoSmtpHost();
        }
        else
        {
            workers = workers.Concat(Run(mail, stoppingToken));
        }

        return Task.WhenAll(workers);
    }

    /// <summary>The lane's workers and the recorder they share, which stops once they have.</summary>
    IEnumerable<Task> Run<TRow>(IOutboxTransport<TRow> transport, CancellationToken stoppingToken) where TRow : IClaimedRow
    {
        var recorder = new OutboxRecorder(dataSource, outboxOptions.Value, clock);
        var recording = recorder.RunAsync();
        var workers = Enumerable.Range(0, transport.Workers)
            .Select(_ => new OutboxWorker<TRow>(transport, recorder, dataSource, signal, outboxOptions.Value, metrics, clock, logger).RunAsync(stoppingToken))
            .ToList();
        yield return Task.WhenAll(workers).ContinueWith(_ => recorder.Complete(), TaskScheduler.Default);
        yield return recording;
    }

    /// <summary>The outbox gauges (waiting, oldest age), from one look every 15 s rather than from every worker's wake-up.</summary>
    async Task ObserveDepthAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                var depth = await OutboxSql.QueueDepthAsync(connection, stoppingToken);
                metrics.Outbox(depth.Sum(d => d.Waiting),
                    depth.Min(d => d.OldestCreatedAt) is { } oldest ? clock.GetUtcNow().UtcDateTime - oldest : TimeSpan.Zero);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (NpgsqlException)
            {
                // the workers log the outage; the gauges keep their last value until the next look
            }

            try
            {
                await Task.Delay(DepthInterval, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    static readonly TimeSpan DepthInterval = TimeSpan.FromSeconds(15);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Smtp__Host is not set: mails wait in the outbox until it is.")]
    partial void LogNoSmtpHost();
}
