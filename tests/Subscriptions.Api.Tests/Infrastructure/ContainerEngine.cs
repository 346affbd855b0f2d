using DotNet.Testcontainers.Configurations;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// `dotnet test` from an IDE on a machine tests/run.sh has not prepared: one line that says so,
/// instead of Testcontainers' own exception in every test.
/// </summary>
public static class ContainerEngine
{
    /// <summary>
    /// The engine's own command line, for what the Docker API does not do alike on both engines (an
    /// image build with mounts, a health check run by hand): podman where installed (tests/run.sh's
    /// engine where no Docker engine answers), else docker.
    /// </summary>
    public static string CommandLine { get; } = File.Exists("/usr/bin/podman") ? "podman" : "docker";

    /// <summary>Checks first, then hands the builder back (for constructors written as one expression).</summary>
    public static T Ready<T>(T builder)
    {
        EnsureAvailable();
        return builder;
    }

    public static void EnsureAvailable()
    {
        if (TestcontainersSettings.OS.DockerEndpointAuthConfig is null)
        {
            throw new InvalidOperationException(
                "No container engine for Testcontainers (no Docker, no DOCKER_HOST): run tests/run.sh, which installs and starts Podman's Docker API "
                + "and builds the PostgreSQL and MailDev images and stand-ins of the .NET base images (and installs Chromium, Prometheus and the npm and dotnet tools the tests use); "
                + "to run single tests from an IDE afterwards, give it the DOCKER_HOST, PG_IMAGE, MAILDEV_IMAGE, TC_* and TESTCONTAINERS_* variables tests/run.sh exports.");
        }
    }
}
