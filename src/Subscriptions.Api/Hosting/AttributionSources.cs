using System.Collections.Frozen;
using System.Text.RegularExpressions;

namespace Subscriptions.Api.Hosting;

/// <summary>Attribution__Sources__N: utm_source values that stats and metrics name, besides the shipped ones.</summary>
public sealed class AttributionOptions
{
    public const string Section = "Attribution";

    public string[] Sources { get; set; } = [];
}

/// <summary>
/// What "source" means in the funnel's labels (/metrics and /api/admin/stats alike): a signup's
/// utm_source, lower-cased, when it is one the service knows — a shipped set of common ones plus
/// <c>Attribution__Sources__N</c> — else <c>other</c>; <c>none</c> without one. A known set rather
/// than the top N seen: a bot can send any utm_source, but cannot make one a label, and a label
/// means the same today as last month (a top N would move under the dashboards).
/// </summary>
public sealed partial class AttributionSources
{
    public const string None = "none", Other = "other";

    /// <summary>Common campaign sources, named as analytics tools write them.</summary>
    public static readonly string[] Shipped =
    [
        "newsletter", "email", "google", "bing", "duckduckgo", "facebook", "instagram", "threads", "linkedin", "twitter", "x",
        "bluesky", "mastodon", "reddit", "youtube", "tiktok", "whatsapp", "telegram", "pinterest", "podcast",
    ];

    public const int MaxConfigured = 100;

    readonly FrozenSet<string> _known;

    public AttributionSources(IEnumerable<string> configured) =>
        _known = Shipped.Concat(configured).ToFrozenSet(StringComparer.Ordinal);

    /// <summary>The known sources, as the stats query takes them.</summary>
    public string[] Known => [.. _known];

    /// <summary>The label of a signup's utm_source: itself lower-cased when known, else other; none without one.</summary>
    public string Label(string? utmSource)
    {
        if (string.IsNullOrWhiteSpace(utmSource))
        {
            return None;
        }

        var lowered = utmSource.Trim().ToLowerInvariant();
        return _known.TryGetValue(lowered, out var known) ? known : Other;
    }

    /// <summary>A configured source: what a Prometheus label value may safely be, and not one of the label's own words.</summary>
    public static bool IsSourceName(string value) => SourceName().IsMatch(value) && value is not (None or Other or "unknown");

    [GeneratedRegex(@"^[a-z0-9][a-z0-9._-]{0,39}\z")]
    private static partial Regex SourceName();
}
