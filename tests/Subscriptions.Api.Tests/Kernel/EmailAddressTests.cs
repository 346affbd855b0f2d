using Subscriptions.Api.Kernel;

namespace Subscriptions.Api.Tests.Kernel;

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

    [Theory]
    [InlineData("reader@news\u200B.example")] // zero-width space: IDNA would delete it
    [InlineData("reader@news.exam\u00ADple")] // soft hyphen: likewise
    [InlineData("reader@news.example\u202E")] // right-to-left override
    [InlineData("\u202Ereader@news.example")]
    [InlineData("reader\u200E@news.example")] // left-to-right mark
    [InlineData("reader@\u2067news.example")] // right-to-left isolate
    [InlineData("reader@news.example\u061C")] // Arabic letter mark
    [InlineData("\uFEFFreader@news.example")] // byte order mark
    [InlineData("read\u2060er@news.example")] // word joiner
    [InlineData("reader@ne\u200Dws.example")] // zero-width joiner
    [InlineData("reader@news\u034F.example")] // combining grapheme joiner
    [InlineData("read\u3164er@news.example")] // Hangul filler, a letter that shows nothing
    [InlineData("reader\uFE0F@news.example")] // variation selector
    [InlineData("reader@news.example\U000E0041")] // tag character
    public void Addresses_with_invisible_characters_are_refused(string typed)
    {
        Assert.False(EmailAddress.TryNormalize(typed, out _));
    }

    [Theory]
    [InlineData("reader@ex\u0430mple.com")] // Cyrillic а among Latin letters
    [InlineData("reader@\u0440aypal.com")] // Cyrillic р
    [InlineData("reader@g\u03BF\u03BFgle.com")] // Greek ο
    [InlineData("reader@\u0430\u03B1.example")] // Cyrillic and Greek
    [InlineData("reader@abc\u13A0.example")] // Latin and Cherokee, which is not a Recommended script
    [InlineData("reader@\u3072\uD55C.example")] // Hiragana and Hangul
    [InlineData("reader@\u0915\u0E01.example")] // Devanagari and Thai
    [InlineData("reader@abc\u0915\u0E01.example")] // Latin with two others
    public void Domain_labels_that_mix_scripts_are_refused(string typed)
    {
        Assert.False(EmailAddress.TryNormalize(typed, out _));
    }

    [Theory]
    [InlineData("info@例え.テスト")] // Japanese: Han and Hiragana, Katakana
    [InlineData("info@ひらがなカタカナ漢字abc.jp")] // Japanese with Latin in one label
    [InlineData("info@東京ーデータ.jp")] // Katakana's prolonged sound mark is Common
    [InlineData("info@中文域名.cn")] // Chinese
    [InlineData("info@abc中文123.com")] // Han with Latin and digits
    [InlineData("info@ㄅㄆ中文.tw")] // Han with Bopomofo
    [InlineData("info@한국어도메인.kr")] // Korean
    [InlineData("info@한국漢字abc.kr")] // Hangul, Han and Latin
    [InlineData("info@пример.рф")] // Cyrillic alone
    [InlineData("info@пример-123.com")] // Cyrillic label beside a Latin one
    [InlineData("info@ελληνικά.gr")] // Greek alone
    [InlineData("info@abcहिन्दी.in")] // Latin with one other Recommended script
    [InlineData("info@ᏣᎳᎩ.example")] // Cherokee alone
    [InlineData("пример@example.com")] // the rule is for domain labels: a local part is the reader's own
    public void Single_script_and_CJK_labels_stay_valid(string typed)
    {
        Assert.True(EmailAddress.TryNormalize(typed, out _));
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
