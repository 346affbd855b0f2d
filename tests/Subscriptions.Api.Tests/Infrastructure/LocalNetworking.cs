using System.Net;
using System.Net.Sockets;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using DotNet.Testcontainers.Containers;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// On machines where Podman serves the Docker API (tests/run.sh sets TC_NETWORK_MODE and
/// TC_PORT_BIND_IP), containers use slirp4netns and publish their ports on 127.0.0.1 only:
/// Podman's Docker API would otherwise put them on a bridge with a private address range.
/// With the variables unset (Docker), this does nothing.
/// </summary>
public static class LocalNetworking
{
    static readonly string? Mode = Environment.GetEnvironmentVariable("TC_NETWORK_MODE");
    static readonly string? BindIp = Environment.GetEnvironmentVariable("TC_PORT_BIND_IP");

    /// <param name="reachHostLoopback">
    /// The container also reaches servers the tests publish on the host's 127.0.0.1 (the service's
    /// image against the tests' PostgreSQL and MailDev), at <see cref="HostAddressFromContainer"/>.
    /// </param>
    public static TBuilder WithLocalNetworking<TBuilder, TContainer, TConfig>(
        this ContainerBuilder<TBuilder, TContainer, TConfig> builder, bool reachHostLoopback = false)
        where TBuilder : ContainerBuilder<TBuilder, TContainer, TConfig>
        where TContainer : IContainer
        where TConfig : IContainerConfiguration
        => builder.WithCreateParameterModifier(parameters =>
        {
            if (parameters.HostConfig is not { } host)
            {
                return;
            }

            if (!string.IsNullOrEmpty(Mode))
            {
                host.NetworkMode = reachHostLoopback ? HostLoopbackMode() : Mode;
            }
            else if (reachHostLoopback)
            {
                host.ExtraHosts = [.. host.ExtraHosts ?? [], "host.docker.internal:host-gateway"];
            }

            if (!string.IsNullOrEmpty(BindIp) && host.PortBindings is { } bindings)
            {
                foreach (var binding in bindings.Values.SelectMany(list => list))
                {
                    binding.HostIP = BindIp;
                }
            }
        });

    /// <summary>
    /// Where a container started with reachHostLoopback finds the host's 127.0.0.1: slirp4netns's
    /// address for the host once allow_host_loopback is on; on Docker, the host gateway (Docker
    /// publishes the tests' ports on every address there).
    /// </summary>
    public static string HostAddressFromContainer => string.IsNullOrEmpty(Mode) ? "host.docker.internal" : "10.0.2.2";

    static string HostLoopbackMode() => Mode == "slirp4netns"
        ? "slirp4netns:allow_host_loopback=true"
        : throw new NotSupportedException($"a container reaching the host's loopback in network mode {Mode}");

    /// <summary>
    /// A loopback port free right now, for a server whose port must be known before it starts (a
    /// proxy's configuration names it) or stay the same across a stop and a start. Taken below the
    /// kernel's ephemeral range: a port the kernel handed out (port 0) is handed out again to the
    /// next outgoing connection, which then holds it when the server binds it later ("address
    /// already in use"); below that range only an explicit bind takes a port. Each call gives
    /// another port, from a place in the range that differs between test processes.
    /// </summary>
    public static int FreePort()
    {
        for (var tries = 0; tries < PortRange.Count; tries++)
        {
            var port = PortRange.First + (int)((uint)Interlocked.Increment(ref _nextPort) % (uint)PortRange.Count);
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // someone's already: the next one
            }
        }

        throw new InvalidOperationException($"no free loopback port from {PortRange.First} to {PortRange.First + PortRange.Count - 1}");
    }

    static readonly (int First, int Count) PortRange = BelowEphemeralRange();

    static int _nextPort = Random.Shared.Next();

    static (int First, int Count) BelowEphemeralRange()
    {
        const string file = "/proc/sys/net/ipv4/ip_local_port_range";
        var firstEphemeral = File.Exists(file) && int.TryParse(File.ReadAllText(file).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[0], out var low)
            ? low
            : 49152; // the IANA dynamic range, where Windows and macOS take ephemeral ports
        var first = Math.Max(10000, firstEphemeral - 16000);
        return (first, firstEphemeral - first);
    }
}
