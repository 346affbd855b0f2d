using System.Collections.Frozen;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace Subscriptions.Api.Pages;

/// <summary>
/// Browsers get pages, scripts get JSON: the one place that decides, for every answer that can
/// be either (an error through <see cref="ErrorPageWriter"/>, a confirmation, an unsubscribe).
/// </summary>
public static class BrowserOrScript
{
    /// <summary>The error statuses a browser is shown as a hosted page, with the same status code.</summary>
    public static readonly FrozenSet<int> PageStatuses = new[] { 400, 404, 405, 410, 413, 415, 429, 500, 503 }.ToFrozenSet();

    /// <summary>
    /// The endpoint is a step of a reader's flow (a form post, a link from a mail): a request that
    /// states no preference gets that flow's own answers as pages.
    /// </summary>
    public static TBuilder OpensInBrowser<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(ReaderFlow.Instance);

    /// <summary>
    /// A page when the Accept header ranks HTML above JSON. A request that ranks neither (no
    /// Accept, or only <c>*/*</c>: mail clients' one-click posts, curl, old tests) gets a page only on a
    /// reader's flow, when it sends no JSON, and only for the flow's own answers: its success, its
    /// form's errors, its link's refusal and an outage. What it did wrong as a request (framing,
    /// charset, size, rate) it is told in problem details, as any script is.
    /// </summary>
    public static bool WantsPage(HttpContext http, ProblemDetails? problem = null)
    {
        if (PrefersHtml(http.Request) is { } prefersHtml)
        {
            return prefersHtml;
        }

        // the exception handler clears the endpoint before it runs; its feature keeps it
        var endpoint = http.GetEndpoint() ?? http.Features.Get<IExceptionHandlerFeature>()?.Endpoint;
        return endpoint?.Metadata.GetMetadata<ReaderFlow>() is not null
            && !http.Request.HasJsonContentType()
            && (problem is null or HttpValidationProblemDetails or ReaderProblem || http.Response.StatusCode == StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>True or false when Accept names HTML or JSON (the higher quality wins; a tie is JSON), null when it names neither.</summary>
    static bool? PrefersHtml(HttpRequest request)
    {
        double? html = null, json = null;
        foreach (var accepted in request.GetTypedHeaders().Accept)
        {
            var quality = accepted.Quality ?? 1;
            var type = accepted.MediaType;
            if (type.Equals("text/html", StringComparison.OrdinalIgnoreCase) || type.Equals("application/xhtml+xml", StringComparison.OrdinalIgnoreCase))
            {
                html = Math.Max(html ?? 0, quality);
            }
            else if (type.Equals("application/json", StringComparison.OrdinalIgnoreCase) || type.Equals("application/problem+json", StringComparison.OrdinalIgnoreCase))
            {
                json = Math.Max(json ?? 0, quality);
            }
        }

        return html is null && json is null ? null : (html ?? 0) > (json ?? 0);
    }

    sealed class ReaderFlow
    {
        public static readonly ReaderFlow Instance = new();
    }
}
