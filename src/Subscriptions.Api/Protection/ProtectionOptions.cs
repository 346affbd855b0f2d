namespace Subscriptions.Api.Protection;

public sealed class SignupProtectionOptions
{
    public const string Section = "Signup";

    /// <summary>A field hidden from people; bots fill it. Filled = the usual success answer, nothing stored.</summary>
    public string HoneypotField { get; set; } = "website";

    /// <summary>Larger signup bodies get 413 before they are read.</summary>
    public int MaxBodyBytes { get; set; } = 16 * 1024;

    /// <summary>
    /// An accepted signup is answered no sooner than this after it arrived, so the small
    /// difference in database work between a new and a known address cannot be timed.
    /// </summary>
    public TimeSpan MinimumResponseTime { get; set; } = TimeSpan.FromMilliseconds(10);
}

public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    /// <summary>Per client IP on POST /api/subscriptions.</summary>
    public TokenBucket Signup { get; set; } = new() { Burst = 10, PerMinute = 5 };

    /// <summary>Per client IP on the confirmation and unsubscribe links.</summary>
    public TokenBucket Links { get; set; } = new() { Burst = 20, PerMinute = 10 };

    public sealed class TokenBucket
    {
        public int Burst { get; set; }

        public int PerMinute { get; set; }
    }
}

public sealed class CorsOptions
{
    public const string Section = "Cors";

    /// <summary>Origins allowed for every list, besides each list's own allowed origins.</summary>
    public string[] AllowedOrigins { get; set; } = [];
}

public sealed class PageOptions
{
    public const string Section = "Pages";

    /// <summary>CSP frame-ancestors for hosted pages: who may frame them. Default: nobody.</summary>
    public string FrameAncestors { get; set; } = "'none'";
}
