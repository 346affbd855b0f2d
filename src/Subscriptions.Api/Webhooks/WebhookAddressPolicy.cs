using System.Net;
using System.Net.Sockets;

namespace Subscriptions.Api.Webhooks;

/// <summary>
/// Where webhooks may go: https anywhere public, http only to loopback, and private networks
/// only when the operator allows them. Checked when an endpoint is registered and again on
/// every connection, against the addresses its name resolves to then (DNS can change).
/// </summary>
public static class WebhookAddressPolicy
{
    public const int MaxUrlLength = 2000;

    /// <summary>Why the URL is refused, or null.</summary>
    public static string? Refusal(string? url, bool allowPrivateNetworks)
    {
        // Uri takes control characters (a NUL) that PostgreSQL then refuses to store
        if (string.IsNullOrWhiteSpace(url) || url.Length > MaxUrlLength || url.Any(char.IsControl) || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return $"Give an absolute https URL of at most {MaxUrlLength} characters.";
        }

        if (uri.UserInfo.Length > 0 || uri.Fragment.Length > 0)
        {
            return "The URL must not carry credentials or a fragment.";
        }

        var loopback = uri.IsLoopback;
        if (uri.Scheme != Uri.UriSchemeHttps && !(uri.Scheme == Uri.UriSchemeHttp && loopback))
        {
            return "Only https URLs are allowed (http only to loopback).";
        }

        if (IPAddress.TryParse(uri.IdnHost, out var address) && !Allows(address, allowPrivateNetworks))
        {
            return "Receivers on private networks are refused (Webhooks__AllowPrivateNetworks allows them).";
        }

        return null;
    }

    public static bool Allows(IPAddress address, bool allowPrivateNetworks)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address))
        {
            return true;
        }

        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast)
            || address.IsIPv6Multicast || IsIPv4Multicast(address))
        {
            return false;
        }

        return allowPrivateNetworks || !IsPrivate(address);
    }

    static bool IsIPv4Multicast(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetwork && address.GetAddressBytes()[0] is >= 224 and <= 239;

    /// <summary>RFC 1918, link-local (cloud metadata lives there), CGNAT, "this network", unique-local and site-local IPv6.</summary>
    static bool IsPrivate(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal;
        }

        var b = address.GetAddressBytes();
        return b[0] == 10 || b[0] == 0
            || (b[0] == 172 && b[1] is >= 16 and <= 31)
            || (b[0] == 192 && b[1] == 168)
            || (b[0] == 169 && b[1] == 254)
            || (b[0] == 100 && b[1] is >= 64 and <= 127);
    }

    /// <summary>For the webhook HttpClient: connects only to addresses the policy allows.</summary>
    public static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> ConnectCallback(bool allowPrivateNetworks) =>
        async (context, cancellationToken) =>
        {
            var addresses = await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, cancellationToken);
            var allowed = addresses.Where(a => Allows(a, allowPrivateNetworks)).ToArray();
            if (allowed.Length == 0)
            {
                throw new HttpRequestException($"refused: {context.DnsEndPoint.Host} resolves to no address webhooks may go to");
            }

            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        };
}
