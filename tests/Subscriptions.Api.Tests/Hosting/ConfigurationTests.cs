using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Hosting;

public class ConfigurationTests
{
    const string SomeDatabase = "Host=127.0.0.1;Port=1;Database=none;Username=none";

    [Fact]
    public async Task A_missing_connection_string_stops_the_process_with_one_clear_line()
    {
        var (exitCode, _, stderr) = await ServiceProcess.RunAsync([], []);

        Assert.Equal(1, exitCode);
        Assert.Equal(
            "Configuration error: ConnectionStrings__Subscriptions is not set: give it an Npgsql connection string.",
            stderr.TrimEnd());
    }

    [Fact]
    public async Task A_malformed_connection_string_stops_the_process_with_one_clear_line()
    {
        var (exitCode, _, stderr) = await ServiceProcess.RunAsync([], new() { ["ConnectionStrings__Subscriptions"] = "Hots=oops;;=" });

        Assert.Equal(1, exitCode);
        Assert.Equal("Configuration error: ConnectionStrings__Subscriptions is not a valid Npgsql connection string.", stderr.TrimEnd());
    }

    [Fact]
    public async Task A_malformed_read_only_connection_string_stops_the_process_with_one_clear_line()
    {
        var (exitCode, _, stderr) = await ServiceProcess.RunAsync([], new()
        {
            ["ConnectionStrings__Subscriptions"] = SomeDatabase,
            ["ConnectionStrings__SubscriptionsReadOnly"] = "Hots=oops;;=",
        });

        Assert.Equal(1, exitCode);
        Assert.Equal("Configuration error: ConnectionStrings__SubscriptionsReadOnly is not a valid Npgsql connection string.", stderr.TrimEnd());
    }

    [Theory]
    [InlineData("not a url")]
    [InlineData("/relative/path")]
    [InlineData("ftp://news.example.com")]
    [InlineData("https://news.example.com/?q=1")]
    public async Task A_malformed_public_base_url_stops_the_process_with_one_clear_line(string url)
    {
        var (exitCode, _, stderr) = await ServiceProcess.RunAsync([], new()
        {
            ["ConnectionStrings__Subscriptions"] = SomeDatabase,
            ["Subscriptions__PublicBaseUrl"] = url,
        });

        Assert.Equal(1, exitCode);
        var line = Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.StartsWith("Configuration error: Subscriptions__PublicBaseUrl must be an absolute http(s) URL", line);
    }

    [Fact]
    public async Task A_malformed_trusted_proxy_stops_the_process()
    {
        var (exitCode, _, stderr) = await ServiceProcess.RunAsync([], new()
        {
            ["ConnectionStrings__Subscriptions"] = SomeDatabase,
            ["Subscriptions__TrustedProxies__0"] = "10.0.0.0/99",
        });

        Assert.Equal(1, exitCode);
        Assert.StartsWith("Configuration error: Subscriptions__TrustedProxies", stderr);
    }

    [Fact]
    public async Task A_configured_common_domain_that_is_no_mail_domain_stops_the_process()
    {
        var (exitCode, _, stderr) = await ServiceProcess.RunAsync([], new()
        {
            ["ConnectionStrings__Subscriptions"] = SomeDatabase,
            ["Signup__CommonDomains__0"] = "mail.example",
            ["Signup__CommonDomains__1"] = "not a domain",
        });

        Assert.Equal(1, exitCode);
        Assert.StartsWith("Configuration error: Signup__CommonDomains must hold mail domains only", stderr);
    }

    [Theory]
    [InlineData("Signup__DisposableDomains", "Block", "Signup:DisposableDomains")]
    [InlineData("Signup__DisposableDomains", "7", "Signup__DisposableDomains must be Allow, Refuse or Hold.")]
    [InlineData("Signup__MoreDisposableDomains__0", "not a domain", "Signup__MoreDisposableDomains and Signup__NotDisposableDomains must hold mail domains only")]
    [InlineData("Signup__NotDisposableDomains__0", "a@b.example", "Signup__MoreDisposableDomains and Signup__NotDisposableDomains must hold mail domains only")]
    [InlineData("Signup__DnsServers__0", "dns.example", "Signup__DnsServers must hold IP addresses")]
    [InlineData("Signup__MxTimeout", "00:01:00", "Signup__MxTimeout must be between")]
    [InlineData("Signup__MxCacheSize", "0", "Signup__MxCacheSize must be between")]
    public async Task A_bad_disposable_domain_or_MX_setting_stops_the_process(string key, string value, string message)
    {
        var (exitCode, _, stderr) = await ServiceProcess.RunAsync([], new()
        {
            ["ConnectionStrings__Subscriptions"] = SomeDatabase,
            [key] = value,
        });

        Assert.Equal(1, exitCode);
        Assert.StartsWith("Configuration error:", stderr);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("newsletter@localhost")]
    [InlineData("News <news@mailhost>")]
    [InlineData("News <news@box.local>")]
    public async Task A_production_start_without_a_real_sender_stops_with_one_clear_line(string? from)
    {
        var (exitCode, _, stderr) = await ServiceProcess.RunAsync([], new()
        {
            ["ConnectionStrings__Subscriptions"] = SomeDatabase,
            ["Smtp__From"] = from,
        });

        Assert.Equal(1, exitCode);
        var line = Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.StartsWith("Configuration error: Smtp__From must be set in Production to the newsletter's real sender", line);
    }

    [Fact]
    public async Task A_production_start_without_a_public_base_url_stops_with_one_clear_line()
    {
        var (exitCode, _, stderr) = await ServiceProcess.RunAsync([], new()
        {
            ["ConnectionStrings__Subscriptions"] = SomeDatabase,
            ["Subscriptions__PublicBaseUrl"] = null,
        });

        Assert.Equal(1, exitCode);
        var line = Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.Equal(
            "Configuration error: Subscriptions__PublicBaseUrl must be set in Production: links in mails need the public address, e.g. https://news.example.com.",
            line);
    }
}
