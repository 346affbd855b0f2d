using System.Net;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Health;

public class HealthTests(ApiFixture fixture) : ApiTest(fixture)
{
    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task Probes_answer_healthy(string path)
    {
        var response = await Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Ready_fails_when_the_database_is_gone_but_live_does_not()
    {
        var database = await Fixture.Postgres.CreateDatabaseAsync();
        await using var app = new SubscriptionsApp(database);
        using var client = app.CreateHttpClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);

        await Fixture.Postgres.DropDatabaseAsync(database);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
    }
}
