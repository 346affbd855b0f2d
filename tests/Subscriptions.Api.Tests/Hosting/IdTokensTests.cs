using System.Security.Cryptography;
using System.Text;
using Subscriptions.Api.Hosting;

namespace Subscriptions.Api.Tests.Hosting;

public class IdTokensTests
{
    [Fact]
    public void Links_made_a_batch_at_a_time_are_the_links_made_one_at_a_time_and_read_back()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        using var single = new IdTokens(key, "unsubscribe");
        using var maker = new IdLinkMaker("https://news.example/unsubscribe/", new IdTokens(key, "unsubscribe"));
        var random = new Random(16);
        foreach (var count in new[] { 1, 2, 3, 17, 256, 700 })
        {
            long[] ids = [.. Enumerable.Range(0, count).Select(i => i == 0 ? long.MaxValue : random.NextInt64(1, long.MaxValue))];
            var urls = new byte[count * maker.Utf8Length];

            maker.WriteUtf8(ids, urls);

            for (var i = 0; i < count; i++)
            {
                var url = Encoding.UTF8.GetString(urls, i * maker.Utf8Length, maker.Utf8Length);
                Assert.Equal("https://news.example/unsubscribe/" + single.Make(ids[i]), url);
                Assert.Equal(ids[i], single.Read(url.AsSpan(url.Length - IdTokens.Chars)));
            }
        }
    }
}
