namespace Subscriptions.Api.Outbox;

/// <summary>Exponential backoff with "equal jitter": half the delay fixed, half random.</summary>
public static class Backoff
{
    public static TimeSpan After(int attempts, OutboxOptions options)
    {
        var exponential = options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Clamp(attempts - 1, 0, 30));
        var delay = Math.Min(exponential, options.RetryMaxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(delay / 2 + Random.Shared.NextDouble() * delay / 2);
    }
}
