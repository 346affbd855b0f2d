using System.Diagnostics;
using Microsoft.AspNetCore.Routing.Patterns;

namespace Subscriptions.Api.Hosting;

/// <summary>
/// What a request span may not say. ASP.NET Core's instrumentation records the path as requested
/// (url.path), and the service's paths carry secrets and personal data: the confirm, unsubscribe
/// and manage links' tokens, the admin routes' {email}. A path with route values is recorded as its
/// route template instead (/confirm/{token}); a path no route matched, which may be a mistyped link,
/// not at all. The query string's values are already redacted by the instrumentation (url.query
/// "?token=Redacted"); the user agent, which consent evidence counts as personal, is dropped, as
/// is the client's address should the instrumentation ever record one.
/// </summary>
static class TraceRedaction
{
    public static void Redact(Activity activity, HttpResponse response)
    {
        var pattern = (response.HttpContext.GetEndpoint() as RouteEndpoint)?.RoutePattern;
        if (pattern is null)
        {
            activity.SetTag("url.path", null);
        }
        else if (pattern.Parameters.Count > 0)
        {
            activity.SetTag("url.path", Template(pattern));
        }

        // personal data, which the instrumentation does not record by default: kept out should that change
        activity.SetTag("user_agent.original", null);
        activity.SetTag("client.address", null);
        activity.SetTag("network.peer.address", null);
    }

    /// <summary>
    /// An outgoing request (a webhook, the captcha check) is recorded by its origin only: a
    /// webhook's URL may carry the receiver's credential in its path (as chat services' hooks do).
    /// </summary>
    public static void RedactOutgoing(Activity activity, HttpRequestMessage request)
    {
        if (request.RequestUri is { IsAbsoluteUri: true } uri)
        {
            activity.SetTag("url.full", uri.GetLeftPart(UriPartial.Authority) + "/");
        }
    }

    static string Template(RoutePattern pattern) => "/" + (pattern.RawText ?? "").TrimStart('/');
}
