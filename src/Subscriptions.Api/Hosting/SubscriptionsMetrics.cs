using System.Diagnostics.Metrics;
using Subscriptions.Api.Outbox;

namespace Subscriptions.Api.Hosting;

/// <summary>The service's own instruments, on the "Subscriptions" meter (exported at /metrics).</summary>
/// <remarks>
/// Label values are bounded: lists that exist (or "unknown"), and sources from <see cref="AttributionSources"/>,
/// so a bot cannot mint series.
/// </remarks>
public sealed class SubscriptionsMetrics
{
    public const string MeterName = "Subscriptions";

    /// <summary>Time to confirm: a minute to a week (beyond: +Inf), in seconds.</summary>
    public static readonly double[] TimeToConfirmBuckets =
        [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 3 * 86400, 7 * 86400];

    readonly AttributionSources _sources;
    readonly Counter<long> _signups;
    readonly Counter<long> _confirmations;
    readonly Histogram<double> _timeToConfirm;
    readonly Counter<long> _unsubscribes;
    readonly Counter<long> _mails;
    readonly Counter<long> _webhooks;
    readonly Dictionary<string, long> _rejected = [];
    long _outboxWaiting;
    double _outboxOldestSeconds;

    public SubscriptionsMetrics(IMeterFactory meters, AttributionSources sources)
    {
        _sources = sources;
        var meter = meters.Create(MeterName);
        _signups = meter.CreateCounter<long>("subscriptions.signups", "{request}",
            "Signup requests by outcome (accepted, held, invalid, disposable, no_mail_domain, throttled, honeypot, captcha_failed), list and source.");
        _confirmations = meter.CreateCounter<long>("subscriptions.confirmations", "{subscription}",
            "Subscriptions confirmed, by list, source and whether a reminder had been sent (reminded).");
        _timeToConfirm = meter.CreateHistogram<double>("subscriptions.time_to_confirm", "s",
            "From the signup to its confirmation, by list and source.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = TimeToConfirmBuckets });
        _unsubscribes = meter.CreateCounter<long>("subscriptions.unsubscribes", "{subscription}", "Subscriptions ended by their subscriber.");
        _mails = meter.CreateCounter<long>("subscriptions.mails", "{mail}", "Mails by outcome: sent, failed (will retry), dead_lettered.");
        _webhooks = meter.CreateCounter<long>("subscriptions.webhooks", "{delivery}", "Webhook deliveries by outcome: sent, failed (will retry), dead_lettered.");
        meter.CreateObservableGauge("subscriptions.outbox.waiting", () => Volatile.Read(ref _outboxWaiting), "{mail}",
            "Mails waiting in the outbox, as this instance last saw it.");
        meter.CreateObservableGauge("subscriptions.outbox.oldest_age", () => Volatile.Read(ref _outboxOldestSeconds), "s",
            "Age of the oldest waiting mail, as this instance last saw it.");
    }

    /// <param name="utmSource">The signup's utm_source as sent; the label is bounded here.</param>
    public void Signup(string outcome, string? list = null, string? utmSource = null)
    {
        _signups.Add(1, new("outcome", outcome), new("list", list ?? "unknown"), new("source", _sources.Label(utmSource)));
        // held (stored, but not mailed: the disposable-domain policy) is not a refusal
        if (outcome is not ("accepted" or "held"))
        {
            lock (_rejected)
            {
                _rejected[outcome] = _rejected.GetValueOrDefault(outcome) + 1;
            }
        }
    }

    /// <summary>Signups this instance refused since it started, by outcome (the stats endpoint shows them; /metrics has every instance's).</summary>
    public IReadOnlyDictionary<string, long> RejectedSinceStart()
    {
        lock (_rejected)
        {
            return new Dictionary<string, long>(_rejected);
        }
    }

    /// <param name="utmSource">The confirmed signup's utm_source as stored.</param>
    /// <param name="signedUpAt">The signup the confirmation confirms (its consent evidence's time).</param>
    /// <param name="reminded">A reminder had been sent before the confirmation.</param>
    public void Confirmed(string list, string? utmSource, DateTimeOffset signedUpAt, DateTimeOffset confirmedAt, bool reminded)
    {
        var source = _sources.Label(utmSource);
        _confirmations.Add(1, new("list", list), new("source", source), new("reminded", reminded ? "true" : "false"));
        _timeToConfirm.Record(Math.Max(0, (confirmedAt - signedUpAt).TotalSeconds), new("list", list), new("source", source));
    }

    public void Unsubscribed() => _unsubscribes.Add(1);

    public void Delivered(OutboxLane lane, string outcome) =>
        (lane == OutboxLane.Mail ? _mails : _webhooks).Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void Outbox(long waiting, TimeSpan oldest)
    {
        Volatile.Write(ref _outboxWaiting, waiting);
        Volatile.Write(ref _outboxOldestSeconds, Math.Max(0, oldest.TotalSeconds));
    }
}
