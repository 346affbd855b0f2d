using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using Subscriptions.Api.Hosting;

namespace Subscriptions.Api.Confirmation;

/// <summary>
/// Absolute links for mails: under Subscriptions__PublicBaseUrl, or, when it is not set (local
/// runs), under the first address the server listens on.
/// </summary>
public sealed class ConfirmationLinks(IOptions<SubscriptionsOptions> options, IServer server)
{
    public const string ConfirmPath = "/confirm";

    Uri? _baseUrl;

    public Uri Confirm(string token) => new($"{BaseUrl.AbsoluteUri.TrimEnd('/')}{ConfirmPath}/{token}");

    Uri BaseUrl => _baseUrl ??= new Uri(options.Value.PublicBaseUrl
        ?? server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()?.Replace("://+", "://localhost", StringComparison.Ordinal).Replace("://*", "://localhost", StringComparison.Ordinal)
        ?? "http://localhost");
}
