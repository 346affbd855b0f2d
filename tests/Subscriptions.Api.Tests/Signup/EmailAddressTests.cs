using Subscriptions.Api.Signup;

namespace Subscriptions.Api.Tests.Signup;

public class EmailAddressTests
{
    [Theory]
    [InlineData("Reader@News.Example", "reader@news.example")]
    [InlineData("  reader@news.example\r\n", "reader@news.example")]
    [InlineData("jörg@müller.example", "jörg@xn--mller-kva.example")]
    [InlineData("JÖRG@MÜLLER.EXAMPLE", "jörg@xn--mller-kva.example")]
    [InlineData("o\u0308@example.org", "\u00f6@example.org")]
    [InlineData("editor@xn--mller-kva.example", "editor@xn--mller-kva.example")]
    [InlineData("first.last+news@sub.domain.example", "first.last+news@sub.domain.example")]
    [InlineData("info@例え.テスト", "info@xn--r8jz45g.xn--zckzah")]
    public void Valid_addresses_normalize_to_one_form(string typed, string normalized)
    {
        Assert.True(EmailAddress.TryNormalize(typed, out var result));
        Assert.Equal(normalized, result);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("reader")]
    [InlineData("reader@")]
    [InlineData("@news.example")]
    [InlineData("reader@news")]
    [InlineData("reader@news.example@other.example")]
    [InlineData("\"reader\"@news.example")]
    [InlineData("reader@[192.0.2.1]")]
    [InlineData("reader@192.0.2.1")]
    [InlineData("Reader <reader@news.example>")]
    [InlineData("reader@news.example\r\nBcc: victim@other.example")]
    [InlineData("read\u0000er@news.example")]
    [InlineData("read\u200Ber@news.example")]
    [InlineData("reader@news_desk.example")]
    [InlineData("reader@-news.example")]
    [InlineData("reader@news..example")]
    [InlineData("reader.@news.example")]
    [InlineData("reader@news.example.")]
    [InlineData("reader@♥.example")]
    [InlineData("reader@\ud800.example")]
    public void Impossible_mailboxes_are_refused(string? typed)
    {
        Assert.False(EmailAddress.TryNormalize(typed, out _));
    }

    [Fact]
    public void Length_limits_count_octets_after_conversion()
    {
        var local64 = new string('a', 64);
        Assert.True(EmailAddress.TryNormalize($"{local64}@news.example", out _));
        Assert.False(EmailAddress.TryNormalize($"{new string('a', 65)}@news.example", out _));

        // 32 two-octet characters fill the 64-octet local part; one more does not fit
        Assert.True(EmailAddress.TryNormalize($"{new string('é', 32)}@news.example", out _));
        Assert.False(EmailAddress.TryNormalize($"{new string('é', 33)}@news.example", out _));

        var label = new string('d', 63);
        var domain = $"{label}.{label}.{label}.{new string('d', 58)}.ex"; // 253 octets
        Assert.False(EmailAddress.TryNormalize($"a@{domain}", out _)); // 255 in all
        Assert.True(EmailAddress.TryNormalize($"a@{domain[2..]}", out _));
    }
}
