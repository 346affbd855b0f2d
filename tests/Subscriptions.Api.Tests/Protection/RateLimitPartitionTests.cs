using System.Net;
using Subscriptions.Api.Protection;

namespace Subscriptions.Api.Tests.Protection;

public class RateLimitPartitionTests
{
    [Theory]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2::")]
    [InlineData("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::")]
    [InlineData("2001:db8:1:2:a:b:c:d", "2001:db8:1:2::")]
    [InlineData("2001:db8:1:3::1", "2001:db8:1:3::")]
    [InlineData("fe80::1%3", "fe80::")]
    [InlineData("::1", "::")]
    [InlineData("::ffff:198.51.100.7", "198.51.100.7")]
    [InlineData("198.51.100.7", "198.51.100.7")]
    public void An_ipv6_client_counts_against_its_64_and_an_ipv4_client_against_its_address(string client, string partition)
    {
        Assert.Equal(IPAddress.Parse(partition), RateLimiting.Partition(IPAddress.Parse(client)));
    }

    [Fact]
    public void Addresses_in_one_64_share_a_partition_and_neighbouring_64s_do_not()
    {
        var first = RateLimiting.Partition(IPAddress.Parse("2001:db8:0:7::1"));

        Assert.Equal(first, RateLimiting.Partition(IPAddress.Parse("2001:db8:0:7:8000::1")));
        Assert.Equal(first.GetHashCode(), RateLimiting.Partition(IPAddress.Parse("2001:db8:0:7:8000::1")).GetHashCode());
        Assert.NotEqual(first, RateLimiting.Partition(IPAddress.Parse("2001:db8:0:6:ffff:ffff:ffff:ffff")));
        Assert.NotEqual(first, RateLimiting.Partition(IPAddress.Parse("2001:db8:0:8::")));
        Assert.NotEqual(RateLimiting.Partition(IPAddress.Parse("198.51.100.7")), RateLimiting.Partition(IPAddress.Parse("198.51.100.8")));
    }

    [Fact]
    public void An_unknown_client_has_a_partition_of_its_own()
    {
        Assert.Equal(IPAddress.None, RateLimiting.Partition(null));
    }
}
