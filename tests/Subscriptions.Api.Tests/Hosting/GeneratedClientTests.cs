using Subscriptions.Api.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Subscriptions.Api.Tests.Hosting;

/// <summary>
/// The document read by a generator that is not ASP.NET's: Kiota (a .NET tool of the repository,
/// .config/dotnet-tools.json) generates a C# client from what the service serves, and
/// tests/Subscriptions.ClientCheck uses it as an integrator would.
/// </summary>
public class GeneratedClientTests(ApiFixture fixture, ITestOutputHelper output) : ApiTest(fixture)
{
    static readonly string Project = Path.Combine(RepositoryPaths.Root, "tests", "Subscriptions.ClientCheck");

    [Fact]
    public async Task A_client_kiota_generates_from_the_served_document_creates_a_list_signs_up_and_exports()
    {
        var document = Path.Combine(Project, "obj", "openapi.json");
        Directory.CreateDirectory(Path.GetDirectoryName(document)!);
        await File.WriteAllTextAsync(document, await Client.GetStringAsync("/openapi/v1.json"));

        await Succeeds("dotnet", ["kiota", "generate", "--language", "CSharp", "--openapi", document,
            "--output", Path.Combine(Project, "Generated"), "--namespace-name", "Subscriptions.ClientCheck.Generated",
            "--class-name", "SubscriptionsClient", "--clean-output", "--log-level", "Warning"]);
        await Succeeds("dotnet", ["build", Project, "--configuration", "Release", "--nologo", "--verbosity", "quiet"]);
        var run = await Succeeds("dotnet", [Path.Combine(Project, "bin", "Release", "net10.0", "Subscriptions.ClientCheck.dll"),
            Fixture.App.BaseAddress.ToString(), ApiFixture.AdminKey, "generated@example.org"]);

        Assert.Contains("exported 1 row(s)", run);
        Assert.Equal(1, await Scalar<long>("""
            SELECT count(*) FROM subscriptions sub
            JOIN subscribers s ON s.id = sub.subscriber_id JOIN lists l ON l.id = sub.list_id
            WHERE s.email = 'generated@example.org' AND l.slug = 'generated' AND sub.status = 'pending'
            """));
    }

    async Task<string> Succeeds(string fileName, string[] arguments)
    {
        // Kiota looks for a newer release of itself on GitHub unless told not to; tests stay on loopback.
        var (exitCode, text) = await ExternalTool.RunAsync(fileName, arguments, TimeSpan.FromMinutes(3),
            new() { ["KIOTA_UPDATE__DISABLED"] = "true" });
        output.WriteLine($"$ {fileName} {string.Join(' ', arguments)}\n{text}");
        Assert.True(exitCode == 0, $"{fileName} {arguments[0]} exited with {exitCode}:\n{text}");
        return text;
    }
}
