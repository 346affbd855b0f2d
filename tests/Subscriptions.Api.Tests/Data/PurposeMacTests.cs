using System.Security.Cryptography;
using System.Text;
using Subscriptions.Api.Data;

namespace Subscriptions.Api.Tests.Data;

public class PurposeMacTests
{
    // Unsubscribe links already mailed and erasure hashes already stored must keep matching:
    // the MAC is HMAC-SHA256 over "purpose\nvalue", however it is computed.
    [Fact]
    public void A_reused_mac_gives_the_hmac_of_purpose_newline_value_for_every_value()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        using var mac = new PurposeMac(key, "unsubscribe");
        var actual = new byte[32];

        foreach (var value in new[] { "1", "9223372036854775807", "ann@example.org", "jörg@bücher.example", "" })
        {
            mac.Compute(value, actual);
            Assert.Equal(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"unsubscribe\n{value}")), actual);
        }
    }
}
