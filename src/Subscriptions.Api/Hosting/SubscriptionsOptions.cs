using System.Net;

namespace Subscriptions.Api.Hosting;

public sealed class SubscriptionsOptions
{
    public const string Section = "Subscriptions";

    /// <summary>Absolute base URL for links inside mails, e.g. https://news.example.com/subscriptions.</summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>Proxies (addresses or CIDR networks) whose X-Forwarded-For is believed.</summary>
    public string[] TrustedProxies { get; set; } = [];

    public static bool IsValidBaseUrl(string? value) =>
        string.IsNullOrEmpty(value)
        || (Uri.TryCreate(value, UriKind.Absolute, out var uri)
            && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)
            && string.IsNullOrEmpty(uri.Query) && string.IsNullOrEmpty(uri.Fragment));

    /// <summary>Reads "10.0.0.0/8" as a network and a bare address as a network of one.</summary>
    public static bool TryParseProxy(string value, out IPNetwork network)
    {
        if (IPAddress.TryParse(value, out var address))
        {
            network = new IPNetwork(address, address.GetAddressBytes().Length * 8);
            return true;
        }

        return IPNetwork.TryParse(value, out network);
    }
}
