using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;

namespace Subscriptions.Api.Tests.Protection.Battery;

/// <summary>One route the running service serves: its template, the methods it answers (null = any) and whether it wants the admin key.</summary>
public sealed record ServedRoute(string Template, IReadOnlyList<string>? Methods, bool NeedsAdminKey, RoutePattern Pattern)
{
    /// <summary>
    /// Every route of the running service, from its endpoint data source: what a route added
    /// later gets without anyone listing it. Endpoints sharing a template are merged.
    /// </summary>
    public static List<ServedRoute> Of(IServiceProvider services) =>
    [
        .. services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .GroupBy(e => e.RoutePattern.RawText ?? "")
            .Select(g => new ServedRoute(
                g.Key,
                g.Any(e => e.Metadata.GetMetadata<IHttpMethodMetadata>() is null)
                    ? null
                    : [.. g.SelectMany(e => e.Metadata.GetMetadata<IHttpMethodMetadata>()!.HttpMethods).Distinct()],
                g.All(e => e.Metadata.GetOrderedMetadata<IAuthorizeData>().Count > 0),
                g.First().RoutePattern))
            .OrderBy(r => r.Template, StringComparer.Ordinal),
    ];

    /// <summary>Serves this method (a route without method metadata serves them all).</summary>
    public bool Serves(string method) => Methods is null || Methods.Contains(method);

    /// <summary>A path for the template with every parameter given <paramref name="value"/> (satisfies long and string constraints alike).</summary>
    public string PathWith(string value = "1") => string.Concat(Pattern.PathSegments.Select(segment => "/" + string.Concat(segment.Parts.Select(part => part switch
    {
        RoutePatternLiteralPart literal => literal.Content,
        RoutePatternSeparatorPart separator => separator.Content,
        _ => value,
    }))));
}
