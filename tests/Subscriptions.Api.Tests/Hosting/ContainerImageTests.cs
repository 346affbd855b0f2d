using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Containers;
using Npgsql;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Subscriptions.Api.Tests.Hosting;

/// <summary>
/// src/Subscriptions.Api/Dockerfile, built unchanged (tests/env/build-service-image.sh) and run as an
/// operator runs it, against the tests' PostgreSQL and MailDev. On these machines (Podman, no registry)
/// it builds on stand-ins of the .NET base images that tests/run.sh builds (tests/env/build-dotnet-images.sh);
/// the README's container section says what that proves and what it cannot.
/// </summary>
public class ContainerImageTests(ApiFixture fixture, ITestOutputHelper output) : OwnDatabaseTest(fixture)
{
    // the port the Dockerfile listens on, exposes and health-checks
    const int ImagePort = 8080;

    [Fact]
    public async Task The_image_starts_as_non_root_takes_a_signup_sends_the_mail_and_passes_its_health_check()
    {
        // a tag of its own: several checkouts on one machine share the engine's images
        var tag = $"localhost/subscriptions-api:test-{Guid.NewGuid():N}";
        var clock = Stopwatch.StartNew();
        var build = await ExternalTool.RunAsync(
            Path.Combine(RepositoryPaths.Root, "tests/env/build-service-image.sh"), [tag], TimeSpan.FromMinutes(10));
        Assert.True(build.ExitCode == 0,
            "the Dockerfile did not build (on Podman it needs the stand-in base images tests/run.sh builds with "
            + $"tests/env/build-dotnet-images.sh):\n{build.Output}");
        output.WriteLine($"image built in {clock.Elapsed.TotalSeconds:F0} s");
        try
        {
            await RunAgainstTheTestServers(tag);
        }
        finally
        {
            await ExternalTool.RunAsync(ContainerEngine.CommandLine, ["rmi", "--force", tag], TimeSpan.FromMinutes(1));
        }
    }

    async Task RunAgainstTheTestServers(string tag)
    {
        var host = LocalNetworking.HostAddressFromContainer;
        var publicBaseUrl = ServiceProcess.ProductionSettings["Subscriptions__PublicBaseUrl"];
        await using var container = new ContainerBuilder(tag)
            .WithEnvironment("ConnectionStrings__Subscriptions", new NpgsqlConnectionStringBuilder(ConnectionString) { Host = host }.ConnectionString)
            .WithEnvironment("Smtp__Host", host)
            .WithEnvironment("Smtp__Port", Fixture.Mail.Port.ToString(CultureInfo.InvariantCulture))
            .WithEnvironment("Smtp__Security", "None")
            .WithEnvironment("Smtp__From", ServiceProcess.ProductionSettings["Smtp__From"])
            .WithEnvironment("Subscriptions__PublicBaseUrl", publicBaseUrl)
            .WithPortBinding(ImagePort, assignRandomHostPort: true)
            .WithWaitStrategy(Wait.ForUnixContainer().UntilHttpRequestIsSucceeded(
                request => request.ForPort(ImagePort).ForPath("/health/ready"), wait => wait.WithTimeout(TimeSpan.FromSeconds(90))))
            .WithLocalNetworking(reachHostLoopback: true)
            .Build();
        try
        {
            await container.StartAsync();
        }
        catch (Exception ex)
        {
            Assert.Fail($"the container did not answer /health/ready ({ex.Message}); its output:\n{await Logs(container)}");
        }

        // non-root: the service (PID 1, the Dockerfile's ENTRYPOINT) runs as the base image's app user
        var status = (await container.ExecAsync(["cat", "/proc/1/status"])).Stdout;
        string[] app = ["1654", "1654", "1654", "1654"]; // real, effective, saved and file-system ids
        Assert.Equal(app, Ids(status, "Uid:"));
        Assert.Equal(app, Ids(status, "Gid:"));
        Assert.StartsWith("app:", (await container.ExecAsync(["getent", "passwd", "1654"])).Stdout);
        Assert.Contains("Subscriptions.Api.dll", (await container.ExecAsync(["cat", "/proc/1/cmdline"])).Stdout);

        // a signup through the published port, its mail through MailDev, the reader's confirmation back through the port
        using var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false })
        {
            BaseAddress = new UriBuilder("http", container.Hostname, container.GetMappedPublicPort(ImagePort)).Uri,
        };
        var email = $"container-{Guid.NewGuid():N}@example.org";
        using (var signup = await client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true }))
        {
            Assert.Equal(HttpStatusCode.Accepted, signup.StatusCode);
        }

        var link = ConfirmationMailTests.ConfirmationLink(Assert.Single(await Fixture.Mail.WaitForMailToAsync(email)));
        Assert.StartsWith(publicBaseUrl + "/confirm/", link.AbsoluteUri);
        using (var confirmed = await client.PostAsync(link.PathAndQuery, null))
        {
            Assert.Equal(HttpStatusCode.SeeOther, confirmed.StatusCode);
        }

        Assert.Equal("confirmed", await Scalar<string>("SELECT status FROM subscriptions"));

        // the Dockerfile's HEALTHCHECK, run by hand: Podman without systemd never runs it by itself
        // (`podman healthcheck run` fails on an image without one, says "unhealthy" and exits 1 on a failure)
        if (ContainerEngine.CommandLine == "podman")
        {
            var check = await ExternalTool.RunAsync("podman", ["healthcheck", "run", container.Id], TimeSpan.FromSeconds(30));
            Assert.True(check.ExitCode == 0, $"podman healthcheck run: exit {check.ExitCode} {check.Output}");
            await TheHealthCheckFailsWhereNothingAnswers(tag);
        }
        else
        {
            await Eventually.TrueAsync(async () => (await ExternalTool.RunAsync(
                    "docker", ["inspect", "--format", "{{.State.Health.Status}}", container.Id], TimeSpan.FromSeconds(30))).Output.Trim() == "healthy",
                TimeSpan.FromSeconds(60), "Docker reports the container healthy");
        }

        // Production logs are JSON lines: none at Error or above
        var logs = await Logs(container);
        Assert.DoesNotContain("\"LogLevel\":\"Error\"", logs, StringComparison.Ordinal);
        Assert.DoesNotContain("\"LogLevel\":\"Critical\"", logs, StringComparison.Ordinal);
        output.WriteLine(logs);
    }

    // the same image with the service not started: the check must say so, or its success above proves nothing
    static async Task TheHealthCheckFailsWhereNothingAnswers(string tag)
    {
        var name = $"subscriptions-healthcheck-{Guid.NewGuid():N}";
        try
        {
            var started = await ExternalTool.RunAsync(
                "podman", ["run", "--detach", "--name", name, "--network", "none", "--entrypoint", "sleep", tag, "60"], TimeSpan.FromSeconds(30));
            Assert.True(started.ExitCode == 0, started.Output);
            var check = await ExternalTool.RunAsync("podman", ["healthcheck", "run", name], TimeSpan.FromSeconds(30));
            Assert.Equal(1, check.ExitCode);
            Assert.Contains("unhealthy", check.Output, StringComparison.Ordinal);
        }
        finally
        {
            await ExternalTool.RunAsync("podman", ["rm", "--force", "--ignore", "--time", "0", name], TimeSpan.FromSeconds(30));
        }
    }

    static string[] Ids(string procStatus, string field) =>
        procStatus.Split('\n').Single(line => line.StartsWith(field, StringComparison.Ordinal))
            .Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[1..];

    static async Task<string> Logs(IContainer container)
    {
        var (stdout, stderr) = await container.GetLogsAsync(timestampsEnabled: false);
        return stdout + stderr;
    }
}
