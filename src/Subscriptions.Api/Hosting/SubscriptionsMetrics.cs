using System.Diagnostics.Metrics;
using Subscriptions.Api.Outbox;

namespace Subscriptions.Api.Hosting;

/// <summary>The service's own instruments, on the "Subscriptions" meter (exported at /metrics).</summary>
public sealed class SubscriptionsMetrics
{
    public const string MeterName = "Subscriptions";

    readonly Counter<long> _signups;
    readonly Counter<long> _confirmations;
    readonly Counter<long> _unsubscribes;
    readonly Counter<long> _mails;
    readonly Counter<long> _webhooks;
    long _outboxWaiting;
    double _outboxOldestSeconds;

    public SubscriptionsMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _signups = meter.CreateCounter<long>("subscriptions.signups", "{request}",
            "Signup requests by outcome: accepted, held, invalid, disposable, no_mail_domain, throttled, honeypot, captcha_failed.");
        _confirmations = meter.CreateCounter<long>("subscriptions.confirmations", "{subscription}", "Subscriptions confirmed.");
        _unsubscribes = meter.CreateCounter<long>("subscriptions.unsubscribes", "{subscription}", "Subscriptions ended by their subscriber.");
        _mails = meter.CreateCounter<long>("subscriptions.mails", "{mail}", "Mails by outcome: sent, failed (will retry), dead_lettered.");
        _webhooks = meter.CreateCounter<long>("subscriptions.webhooks", "{delivery}", "Webhook deliveries by outcome: sent, failed (will retry), dead_lettered.");
        meter.CreateObservableGauge("subscriptions.outbox.waiting", () => Volatile.Read(ref _outboxWaiting), "{mail}",
            "Mails waiting in the outbox, as this instance last saw it.");
        meter.CreateObservableGauge("subscriptions.outbox.oldest_age", () => Volatile.Read(ref _outboxOldestSeconds), "s",
            "Age of the oldest waiting mail, as this instance last saw it.");
    }

    public void Signup(string outcome, string? list = null) =>
        _signups.Add(1, new("outcome", outcome), new("list", list ?? "unknown"));

    public void Confirmed(string list) => _confirmations.Add(1, new KeyValuePair<string, object?>("list", list));

    public void Unsubscribed() => _unsubscribes.Add(1);

    public void Delivered(OutboxLane lane, string outcome) =>
        (lane == OutboxLane.Mail ? _mails : _webhooks).Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void Outbox(long waiting, TimeSpan oldest)
    {
        Volatile.Write(ref _outboxWaiting, waiting);
        Volatile.Write(ref _outboxOldestSeconds, Math.Max(0, oldest.TotalSeconds));
    }
}
