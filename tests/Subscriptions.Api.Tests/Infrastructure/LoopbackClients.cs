using System.Net;
using System.Net.Sockets;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// Clients at loopback addresses of their own. Linux routes all of 127.0.0.0/8 to the loopback
/// interface, so a socket bound to 127.5.0.2 reaches a server on 127.0.0.1, which sees it come
/// from 127.5.0.2: a proxy's per-address limits and X-Forwarded-For can be tested with many
/// readers without leaving the machine.
/// </summary>
public static class LoopbackClients
{
    /// <summary>The <paramref name="n"/>-th address of a block of up to 62,500: 127.{block}.{n / 250}.{n % 250 + 2}.</summary>
    public static IPAddress Address(int block, int n) => new([127, (byte)block, (byte)(n / 250), (byte)(n % 250 + 2)]);

    /// <summary>An HTTP client whose every connection comes from <paramref name="source"/>; redirects are not followed.</summary>
    public static HttpClient From(IPAddress source, Uri baseAddress) =>
        WithSockets(baseAddress, socket => socket.Bind(new IPEndPoint(source, 0)));

    /// <summary>An HTTP client whose every socket <paramref name="configure"/> sets up before it connects; redirects are not followed.</summary>
    public static HttpClient WithSockets(Uri baseAddress, Action<Socket> configure) => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                configure(socket);
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    {
        BaseAddress = baseAddress,
    };
}
