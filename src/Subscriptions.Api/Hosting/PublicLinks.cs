using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Subscriptions.Api.Hosting;

/// <summary>
/// Absolute links to this service for mails and exports: under Subscriptions__PublicBaseUrl, or, when it is not set (local
/// runs), under the first address the server listens on.
/// </summary>
public sealed class PublicLinks(IOptions<SubscriptionsOptions> options, IServer server)
{
    /// <summary>Where a confirmation link points (the confirmation endpoints map it; mails link to it).</summary>
    public const string ConfirmPath = "/confirm";

    Uri? _baseUrl;

    /// <summary>An absolute URL for a path of this service (under the base URL's own path, if any).</summary>
    public Uri Absolute(string path) => new($"{BaseUrl.AbsoluteUri.TrimEnd('/')}{path}");

    Uri BaseUrl => _baseUrl ??= new Uri(options.Value.PublicBaseUrl
        ?? server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()?.Replace("://+", "://localhost", StringComparison.Ordinal).Replace("://*", "://localhost", StringComparison.Ordinal)
        ?? "http://localhost");
}
