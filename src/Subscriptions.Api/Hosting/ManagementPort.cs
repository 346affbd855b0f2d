using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace Subscriptions.Api.Hosting;

/// <summary>Management__Urls: where /metrics and the health probes answer when they must not be public.</summary>
public sealed class ManagementOptions
{
    public const string Section = "Management";

    /// <summary>One or more URLs separated by ';', e.g. http://127.0.0.1:9090. Unset: everything on the public URLs.</summary>
    public string? Urls { get; set; }

    public string[] UrlList => (Urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public bool IsSet => UrlList.Length > 0;
}

/// <summary>
/// A second set of Kestrel endpoints for operators. A connection is known as a management one by
/// the endpoint that accepted it (a connection feature set by Kestrel's connection middleware),
/// not by its port number: that also holds for port 0, IPv6, several URLs and any host name.
/// Endpoints marked <see cref="Only"/> answer there and nowhere else; nothing else answers there.
/// </summary>
public static class ManagementPort
{
    /// <summary>Endpoint metadata: served on the management URLs only (when they are set).</summary>
    public static readonly ManagementEndpoint Only = new();

    const string EndpointPrefix = "SubscriptionsManagement";
    const string PublicPrefix = "SubscriptionsPublic";

    public static WebApplicationBuilder AddManagementPort(this WebApplicationBuilder builder)
    {
        var management = builder.Configuration.GetSection(ManagementOptions.Section).Get<ManagementOptions>() ?? new();
        var publicUrls = PublicUrls(builder.Configuration);
        builder.Services.AddOptions<ManagementOptions>()
            .BindConfiguration(ManagementOptions.Section)
            .Validate(o => o.UrlList.All(IsValidUrl),
                "Management__Urls must hold http(s) URLs separated by ';', e.g. http://127.0.0.1:9090.")
            .Validate(o => !o.UrlList.Any(m => publicUrls.Any(p => SameSocket(m, p))),
                $"Management__Urls must not be one of the public URLs ({string.Join(";", publicUrls)}): the management endpoints would be public.")
            .ValidateOnStart();
        if (!management.IsSet || !management.UrlList.All(IsValidUrl))
        {
            return builder;
        }

        // Kestrel binds either the "urls" (ASPNETCORE_URLS, --urls, *_HTTP_PORTS) or the endpoints
        // given in code or configuration, never both. So the public URLs become named endpoints
        // beside the management ones, and Kestrel still parses every URL itself.
        for (var i = 0; i < publicUrls.Length; i++)
        {
            builder.Configuration[$"Kestrel:Endpoints:{PublicPrefix}{i}:Url"] = publicUrls[i];
        }

        for (var i = 0; i < management.UrlList.Length; i++)
        {
            builder.Configuration[$"Kestrel:Endpoints:{EndpointPrefix}{i}:Url"] = management.UrlList[i];
        }

        // no "Overriding address(es)" warning: the addresses are all endpoints now
        builder.WebHost.UseSetting(WebHostDefaults.ServerUrlsKey, "");
        builder.WebHost.UseSetting(WebHostDefaults.HttpPortsKey, "");
        builder.WebHost.UseSetting(WebHostDefaults.HttpsPortsKey, "");
        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            var loader = kestrel.Configure(context.Configuration.GetSection("Kestrel"), reloadOnChange: false);
            for (var i = 0; i < management.UrlList.Length; i++)
            {
                loader.Endpoint($"{EndpointPrefix}{i}", endpoint => endpoint.ListenOptions.Use(next => connection =>
                {
                    connection.Features.Set(ManagementConnection.Instance);
                    return next(connection);
                }));
            }
        });
        return builder;
    }

    /// <summary>
    /// With Management__Urls set: management endpoints answer only on management connections, and
    /// those connections reach nothing else (404 either way, as for a route that does not exist).
    /// </summary>
    public static WebApplication UseManagementPort(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<ManagementOptions>>().Value.IsSet)
        {
            return app;
        }

        app.Use((context, next) =>
        {
            var onManagementConnection = context.Features.Get<ManagementConnection>() is not null;
            var managementEndpoint = context.GetEndpoint()?.Metadata.GetMetadata<ManagementEndpoint>() is not null;
            if (onManagementConnection != managementEndpoint)
            {
                context.SetEndpoint(null);
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            return next(context);
        });
        return app;
    }

    /// <summary>Whether the management URLs are set, so the public API description leaves the probes out.</summary>
    public static bool IsConfigured(IServiceProvider services) =>
        services.GetRequiredService<IOptions<ManagementOptions>>().Value.IsSet;

    /// <summary>The public URLs as the host would have chosen them: urls, then the ports settings, then its default.</summary>
    static string[] PublicUrls(IConfiguration configuration)
    {
        static string[] Split(string? value) => (value ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var urls = Split(configuration[WebHostDefaults.ServerUrlsKey]);
        if (urls.Length > 0)
        {
            return urls;
        }

        var ports = Split(configuration[WebHostDefaults.HttpPortsKey]).Select(p => $"http://*:{p}")
            .Concat(Split(configuration[WebHostDefaults.HttpsPortsKey]).Select(p => $"https://*:{p}")).ToArray();
        return ports.Length > 0 ? ports : ["http://localhost:5000"];
    }

    static bool IsValidUrl(string url)
    {
        try
        {
            var address = BindingAddress.Parse(url);
            return address.Scheme is "http" or "https" && address.Host.Length > 0 && address.Port is >= 0 and <= 65535
                && address.PathBase.Length == 0;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>Two URLs that would be the same listening socket (port 0 never is: each gets its own).</summary>
    static bool SameSocket(string a, string b)
    {
        if (!IsValidUrl(a) || !IsValidUrl(b))
        {
            return false;
        }

        var (x, y) = (BindingAddress.Parse(a), BindingAddress.Parse(b));
        static bool Any(string host) => host is "*" or "+" or "0.0.0.0" or "[::]";
        static string Loopback(string host) => host is "127.0.0.1" or "[::1]" ? "localhost" : host.ToLowerInvariant();
        return x.Port != 0 && x.Port == y.Port
            && (Any(x.Host) || Any(y.Host) || Loopback(x.Host) == Loopback(y.Host));
    }
}

public sealed class ManagementEndpoint;

/// <summary>Set on a connection accepted by a management endpoint.</summary>
public sealed class ManagementConnection
{
    public static readonly ManagementConnection Instance = new();
}
