using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Localization;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Subscriptions.Api.Localization;

namespace Subscriptions.Api.Protection;

/// <summary>
/// Request bodies are UTF-8. A body that says it is something else is refused (415) rather than
/// guessed at: "UTF-16" over UTF-8 bytes was once stored as sent, and the framework's JSON
/// binding, which transcodes a charset it knows, answered 500 for one it does not.
/// </summary>
public static class Utf8Bodies
{
    public static bool DeclaresOtherCharset(HttpRequest request) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
        && !StringSegment.IsNullOrEmpty(type.Charset)
        && !HeaderUtilities.RemoveQuotes(type.Charset).Equals("utf-8", StringComparison.OrdinalIgnoreCase);

    /// <summary>Refuses, before binding reads it, a JSON body declared in another charset, for every endpoint that takes JSON.</summary>
    public static IApplicationBuilder UseUtf8Bodies(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<IAcceptsMetadata>() is { } accepts
            && accepts.ContentTypes.Contains("application/json")
            && context.Request.HasJsonContentType()
            && DeclaresOtherCharset(context.Request))
        {
            context.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            var texts = context.RequestServices.GetRequiredService<IStringLocalizer<Texts>>();
            await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails = { Status = StatusCodes.Status415UnsupportedMediaType, Title = texts["ProblemCharsetTitle"], Detail = texts["ProblemCharset"] },
            });
            return;
        }

        await next(context);
    });
}
