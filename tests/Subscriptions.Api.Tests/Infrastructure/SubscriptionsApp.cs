using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>The real service on Kestrel (real HTTP on 127.0.0.1), pointed at a test database.</summary>
public sealed class SubscriptionsApp : WebApplicationFactory<Program>
{
    readonly Dictionary<string, string?> _settings;
    readonly TimeProvider? _clock;

    public SubscriptionsApp(string connectionString, IDictionary<string, string?>? settings = null, TimeProvider? clock = null)
    {
        _clock = clock;
        _settings = new(settings ?? new Dictionary<string, string?>())
        {
            ["ConnectionStrings:Subscriptions"] = connectionString,
        };
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        StartServer();
        BaseAddress = new Uri(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    /// <summary>Where Kestrel listens: http://127.0.0.1:{a free port}.</summary>
    public Uri BaseAddress { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        // Keep what the service logs, so tests can hold it to "no errors" and read what it says.
        builder.ConfigureLogging(logging => logging.AddFakeLogging());
        if (_clock is not null)
        {
            builder.ConfigureServices(services => services.AddSingleton(_clock));
        }
    }

    public FakeLogCollector Logs => Services.GetFakeLogCollector();

    public void AssertNoErrorsLogged() =>
        Assert.Empty(Logs.GetSnapshot().Where(r => r.Level >= LogLevel.Error).Select(r => $"{r.Category}: {r.Message} {r.Exception}"));

    /// <summary>A plain HTTP client that does not follow redirects, so tests see the 303 itself.</summary>
    public HttpClient CreateHttpClient() =>
        new(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = BaseAddress };
}
