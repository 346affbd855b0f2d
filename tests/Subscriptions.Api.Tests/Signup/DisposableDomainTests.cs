using Subscriptions.Api.Signup;

namespace Subscriptions.Api.Tests.Signup;

/// <summary>The disposable-domain list as pure logic: what matches, and what the shipped list holds.</summary>
public class DisposableDomainTests
{
    static readonly DisposableDomains Shipped = new(DisposablePolicy.Refuse, [], []);

    [Theory]
    [InlineData("ann@mailinator.com")]
    [InlineData("Ann@MAILINATOR.com")]
    [InlineData("ann@trash.mailinator.com")]
    [InlineData("ann@a.b.mailinator.com")]
    [InlineData("ann@guerrillamail.com")]
    [InlineData("ann@yopmail.com")]
    [InlineData("ann@10minutemail.com")]
    public void Listed_domains_and_their_subdomains_are_disposable(string address)
    {
        Assert.True(Shipped.IsDisposable(address));
        Assert.True(Shipped.Refuses(address));
    }

    [Theory]
    [InlineData("ann@gmail.com")]
    [InlineData("ann@news.example")]
    [InlineData("ann@mailinator.com.example")] // a listed name inside another domain is not that domain
    [InlineData("ann@mailinatorx.example")]
    [InlineData("ann@com")]
    [InlineData("not an address")]
    [InlineData("")]
    [InlineData(null)]
    public void Other_domains_and_non_addresses_are_not(string? address) => Assert.False(Shipped.IsDisposable(address));

    [Fact]
    public void The_operator_adds_domains_and_takes_some_out()
    {
        var domains = new DisposableDomains(DisposablePolicy.Hold, ["Wegwerf.example", "bücher-trash.example"], ["mailinator.com", "keep.yopmail.com"]);

        Assert.True(domains.Holds("ann@wegwerf.example"));
        Assert.True(domains.Holds("ann@x.wegwerf.example"));
        Assert.True(domains.Holds("ann@BÜCHER-trash.example")); // kept and matched as punycode
        Assert.False(domains.Holds("ann@mailinator.com"));
        Assert.False(domains.Holds("ann@trash.mailinator.com"));
        Assert.False(domains.Holds("ann@keep.yopmail.com")); // the most specific name decides
        Assert.True(domains.Holds("ann@yopmail.com"));
        Assert.False(domains.Refuses("ann@yopmail.com")); // Hold refuses nothing
    }

    [Fact]
    public void Allow_neither_refuses_nor_holds()
    {
        var allow = new DisposableDomains(DisposablePolicy.Allow, [], []);

        Assert.True(allow.IsDisposable("ann@mailinator.com"));
        Assert.False(allow.Refuses("ann@mailinator.com"));
        Assert.False(allow.Holds("ann@mailinator.com"));
    }

    [Fact]
    public void The_shipped_list_is_large_and_holds_mail_domains_only()
    {
        Assert.True(DisposableDomains.ShippedDomains.Count > 3000, $"{DisposableDomains.ShippedDomains.Count} domains");
        Assert.All(DisposableDomains.ShippedDomains, domain => Assert.True(DisposableDomains.IsMailDomain(domain), domain));
    }

    [Fact]
    public void No_common_mail_domain_counts_as_disposable()
    {
        // the list "Did you mean …?" corrects towards: real providers, whose readers must never be refused
        var common = File.ReadAllLines(Path.Combine(Infrastructure.RepositoryPaths.Root, "src/Subscriptions.Api/Signup/Data/common-domains.txt"))
            .Select(line => line.Split('#')[0].Trim()).Where(line => line.Length > 0).ToList();

        Assert.True(common.Count > 50);
        Assert.DoesNotContain(common, domain => Shipped.IsDisposable($"ann@{domain}"));
    }

    [Fact]
    public void The_data_file_names_its_source_version_and_licence()
    {
        var header = File.ReadLines(Path.Combine(Infrastructure.RepositoryPaths.Root, "src/Subscriptions.Api/Signup/Data/disposable-domains.txt"))
            .TakeWhile(line => line.StartsWith('#')).ToList();

        Assert.Contains(header, line => line.Contains("Source:", StringComparison.Ordinal));
        Assert.Contains(header, line => line.Contains("Version:", StringComparison.Ordinal));
        Assert.Contains(header, line => line.Contains("Licence:", StringComparison.Ordinal));
    }
}
