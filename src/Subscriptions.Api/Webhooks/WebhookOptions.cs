namespace Subscriptions.Api.Webhooks;

public sealed class WebhookOptions
{
    public const string Section = "Webhooks";

    /// <summary>
    /// Receivers on private, link-local or unique-local addresses are refused unless this is set,
    /// so that the admin API cannot be turned into a scanner of the internal network. Loopback is
    /// always allowed (a receiver on the service's own machine).
    /// </summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>A receiver that has not answered within this long counts as failed (and is paused).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
}
