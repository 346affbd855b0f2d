using Microsoft.Extensions.Options;
using Subscriptions.Api.Pages;

namespace Subscriptions.Api.Protection;

/// <summary>
/// Every response: no MIME sniffing, no Referer (links carry tokens). HTML pages also get a
/// Content-Security-Policy that allows nothing but their own inline style (by hash) and forms
/// posting back here, and frame-ancestors from configuration (pages with a policy of their own keep it).
/// </summary>
public static class SecurityHeaders
{
    public static IApplicationBuilder UseSecurityHeaders(this WebApplication app)
    {
        var frameAncestors = app.Services.GetRequiredService<IOptions<PageOptions>>().Value.FrameAncestors;
        var policy = $"default-src 'none'; style-src {PageStyle.CspSource}; form-action 'self'; base-uri 'none'; frame-ancestors {frameAncestors}";

        return app.Use((http, next) =>
        {
            http.Response.OnStarting(() =>
            {
                var headers = http.Response.Headers;
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                if (http.Response.ContentType?.StartsWith("text/html", StringComparison.Ordinal) == true
                    && !headers.ContainsKey("Content-Security-Policy"))
                {
                    headers.ContentSecurityPolicy = policy;
                }

                return Task.CompletedTask;
            });
            return next(http);
        });
    }

    public static IServiceCollection AddSecurityHeaders(this IServiceCollection services)
    {
        services.AddOptions<PageOptions>()
            .BindConfiguration(PageOptions.Section)
            .Validate(o => !string.IsNullOrWhiteSpace(o.FrameAncestors) && !o.FrameAncestors.Contains(';', StringComparison.Ordinal),
                "Pages__FrameAncestors is a CSP source list such as 'none', 'self' or https://news.example.com.")
            .ValidateOnStart();
        return services;
    }
}
