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
    /// A loopback port free right now, for a container whose host port must stay the same across
    /// a stop and a start (an engine-chosen port may change).
    /// </summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
