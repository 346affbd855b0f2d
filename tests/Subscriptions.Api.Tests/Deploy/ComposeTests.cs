using System.Text.RegularExpressions;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Deploy;

/// <summary>
/// docker-compose.yml, linted offline by docker-compose 1.29 (Debian's; tests/run.sh installs it):
/// these machines have no engine to run it, so what can be checked is that it parses, and that its
/// "topology" profile runs the very configuration files the topology tests run.
/// </summary>
public sealed partial class ComposeTests
{
    static async Task<string> ConfigAsync(params string[] options)
    {
        var (exitCode, output) = await ExternalTool.RunAsync("docker-compose", [.. options, "-f", "docker-compose.yml", "config"], TimeSpan.FromSeconds(60));
        Assert.True(exitCode == 0, $"docker-compose {string.Join(' ', options)} config: {output}");
        return output;
    }

    [Fact]
    public async Task The_compose_file_is_valid_with_and_without_the_topology_profile()
    {
        var plain = await ConfigAsync();
        var topology = await ConfigAsync("--profile", "topology");

        foreach (var service in new[] { "postgres", "maildev", "api" })
        {
            Assert.Contains($"\n  {service}:\n", plain);
        }

        // docker-compose 1.29 lists every service; `up` without the profile starts only the ones without one
        foreach (var service in new[] { "postgres-standby", "pgbouncer", "api-1", "api-2", "haproxy" })
        {
            Assert.Matches($@"\n  {service}:\n(    .*\n|      .*\n)*?    profiles:\n    - topology\n", topology);
        }
    }

    [Fact]
    public async Task The_topology_profile_mounts_the_configurations_the_tests_run_and_sets_every_variable_they_read()
    {
        var topology = await ConfigAsync("--profile", "topology");

        // docker-compose writes bind mounts with absolute sources
        Assert.Contains(HaproxyServer.SharedConfiguration, topology);
        Assert.Contains(PgBouncerServer.SharedConfiguration, topology);
        var haproxyConfiguration = await File.ReadAllTextAsync(HaproxyServer.SharedConfiguration);
        var variables = EnvironmentVariable().Matches(haproxyConfiguration).Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.NotEmpty(variables);
        Assert.All(variables, v => Assert.Matches($@"\n\s+{v}: ", topology));
    }

    [GeneratedRegex(@"\$\{([A-Z0-9_]+)\}")]
    private static partial Regex EnvironmentVariable();
}
