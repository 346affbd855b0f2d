using System.Net;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Hosting;

/// <summary>`dotnet Subscriptions.Api.dll` started from another directory still reads the settings beside it.</summary>
public class ApplicationFolderTests(ApiFixture fixture) : ApiTest(fixture)
{
    // the admin key of appsettings.Development.json (the local run command's settings)
    const string DevelopmentAdminKey = "local-admin-key-for-this-machine-only";

    [Theory]
    [InlineData("Development", HttpStatusCode.OK)]
    [InlineData("Production", HttpStatusCode.Unauthorized)]
    public async Task Started_from_another_directory_it_reads_its_own_settings_and_the_Development_ones_only_in_Development(
        string environment, HttpStatusCode withDevelopmentKey)
    {
        var elsewhere = Directory.CreateTempSubdirectory("elsewhere-");
        try
        {
            var settings = new Dictionary<string, string?>(Fixture.AppSettings())
            {
                ["ConnectionStrings:Subscriptions"] = await Fixture.Postgres.CreateDatabaseAsync(),
                ["ASPNETCORE_ENVIRONMENT"] = environment,
                ["Admin:ApiKey"] = null, // the key comes from the settings file, or from nowhere
            };
            await using var service = await RunningService.StartAsync(settings, workingDirectory: elsewhere.FullName);
            using var admin = service.CreateHttpClient();
            admin.DefaultRequestHeaders.Authorization = new("Bearer", DevelopmentAdminKey);

            Assert.Equal(withDevelopmentKey, (await admin.GetAsync("/api/admin/stats")).StatusCode);
        }
        finally
        {
            elsewhere.Delete(recursive: true);
        }
    }
}
