using System.Text;

namespace Subscriptions.Api.Tests.Protection.Battery;

/// <summary>What a case must get back.</summary>
public sealed record Expect(string Name, int? Status, string?[] MediaTypes)
{
    /// <summary>A 4xx with problem details: what every API client gets for bad input.</summary>
    public static readonly Expect Problem = new("4xx problem", null, ["application/problem+json"]);

    /// <summary>A 4xx with problem details or, where a browser may be asking, the hosted HTML page.</summary>
    public static readonly Expect Refused = new("4xx problem or page", null, ["application/problem+json", "text/html"]);

    /// <summary>Refused by Kestrel before any endpoint runs: a 4xx whose body may be empty.</summary>
    public static readonly Expect Framing = new("4xx, maybe empty", null, ["application/problem+json", "text/html", null]);

    /// <summary>Refused by the request line or headers, or a body that never ends: a 4xx, or no answer once the client gives up.</summary>
    public static readonly Expect FramingOrClosed = new("4xx or closed", null, ["application/problem+json", "text/html", null]) { MayClose = true };

    /// <summary>
    /// A 404 from the framework's status pages: problem details for a client that takes JSON, the
    /// hosted page for one that prefers HTML (the embedded form), and the OpenAPI document's own
    /// text/plain answer for a name it does not know.
    /// </summary>
    public static readonly Expect NotFound = new("404", 404, ["application/problem+json", "text/html", "text/plain"]);

    public bool MayClose { get; init; }

    /// <summary>Input the route does not read (a cache-buster on a script): the same answer as without it.</summary>
    public static Expect Unchanged(int status, string mediaType) => new($"{status} {mediaType}", status, [mediaType]);

    public bool Accepts(int status, string? mediaType, string method) =>
        (MayClose && status == 0)
        || ((Status is { } expected ? status == expected : status is >= 400 and <= 499)
            // a HEAD answer has no body to describe
            && (method == "HEAD" || MediaTypes.Contains(mediaType)));
}

/// <summary>
/// One request of the battery. <see cref="Route"/> is the route template it is aimed at, as the
/// service's endpoint data source names it. Raw cases are sent byte for byte over a socket,
/// for what HttpClient will not send (broken framing).
/// </summary>
public sealed record Case(
    string Category,
    string Route,
    string Method,
    string Path,
    Expect Expect,
    byte[]? Body = null,
    string? ContentType = null,
    bool Chunked = false,
    IReadOnlyList<KeyValuePair<string, string>>? Headers = null,
    byte[]? Raw = null,
    bool HalfClose = false)
{
    /// <summary>What the case must get: a NUL in the path itself Kestrel refuses before any endpoint runs (400, no body).</summary>
    public Expect Expected => Raw is null && Path.Split('?')[0].Contains("%00", StringComparison.Ordinal) ? Expect.Framing : Expect;

    public string Describe() =>
        $"{Category}: {Method} {Clip(Path)} {ContentType} {(Raw is null ? Clip(Encoding.UTF8.GetString(Body ?? [])) : Clip(Encoding.UTF8.GetString(Raw)))}";

    static string Clip(string text) =>
        (text.Length <= 160 ? text : text[..160] + "…").Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}

/// <summary>What the cases are aimed at: real rows the test made with valid calls before the battery.</summary>
public sealed record BatteryTargets(
    string AdminKey,
    string List,
    string ConfirmToken,
    string UnsubscribeToken,
    long WebhookId,
    long DeliveryId,
    string ManageToken);
