namespace Subscriptions.Api.Outbox;

/// <summary>How the outbox is worked through.</summary>
public sealed class OutboxOptions
{
    public const string Section = "Outbox";

    public int BatchSize { get; set; } = 50;

    /// <summary>
    /// SMTP connections sending side by side, each with its own batches: while one waits for the
    /// server or for its last outcome to be written, the others send. Each sends its next message
    /// only once the last one's outcome is written (a crash repeats at most one per connection),
    /// so throughput grows with connections until the machine is busy: 8 delivered ~1.5 times
    /// what 4 did on the harness's two cores; 16 kept them busier still (the dispatch scenario alone:
    /// service, PostgreSQL and relay 1.77-1.83 cores busy against 1.67-1.72 with 8).
    /// </summary>
    public int SmtpConnections { get; set; } = 16;

    /// <summary>Webhook workers side by side, each with its own batches.</summary>
    public int WebhookWorkers { get; set; } = 4;

    /// <summary>
    /// Deliveries each webhook worker has in flight at once (a crash re-sends at most these, each
    /// with the webhook-id it had, by which receivers drop a repeat). Each holds its place until its
    /// outcome is written, so the write's latency is part of every delivery: the harness's webhook
    /// scenario alone ran at 0.82 of the HttpClient loop with 16 and 0.91 with 32 (four runs each,
    /// in turn; 8 had left a fifth of the two cores idle).
    /// </summary>
    public int WebhookConcurrency { get; set; } = 32;

    /// <summary>Attempts before a row is dead-lettered.</summary>
    public int MaxAttempts { get; set; } = 10;

    /// <summary>How often to look for work queued by other instances (this instance's own changes wake its workers at once).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long a claim holds: a crashed instance's rows are taken over after it. A worker renews
    /// its batch's claim every third of this while it works on the batch, and before a delivery
    /// when less than half is left.
    /// </summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Delay after the first failure; it doubles per attempt (with jitter) up to RetryMaxDelay.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>An SMTP connection unused this long is closed rather than reused.</summary>
    public TimeSpan ConnectionIdleTimeout { get; set; } = TimeSpan.FromSeconds(60);
}
