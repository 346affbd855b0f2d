using System.Diagnostics.Metrics;

namespace Subscriptions.Api.Hosting;

/// <summary>The service's own instruments, on the "Subscriptions" meter.</summary>
public sealed class SubscriptionsMetrics
{
    public const string MeterName = "Subscriptions";

    readonly Counter<long> _signups;

    public SubscriptionsMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _signups = meter.CreateCounter<long>("subscriptions.signups", "{request}",
            "Signup requests by outcome: accepted, invalid, throttled, honeypot, captcha_failed.");
    }

    public void Signup(string outcome, string? list = null) =>
        _signups.Add(1, new("outcome", outcome), new("list", list ?? "unknown"));
}
