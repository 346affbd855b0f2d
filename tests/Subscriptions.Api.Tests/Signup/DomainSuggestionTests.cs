using Subscriptions.Api.Kernel;
using Subscriptions.Api.Signup;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Signup;

public class DomainSuggestionTests
{
    static readonly DomainSuggestions Suggestions = new([]);

    // Mistyped domains as readers type them: a letter swapped, left out, doubled or hit beside it.
    [Theory]
    [InlineData("ann@gmial.com", "ann@gmail.com")]
    [InlineData("ann@gmai.com", "ann@gmail.com")]
    [InlineData("ann@gamil.com", "ann@gmail.com")]
    [InlineData("ann@gmaill.com", "ann@gmail.com")]
    [InlineData("ann@gnail.com", "ann@gmail.com")]
    [InlineData("ann@gmail.con", "ann@gmail.com")]
    [InlineData("ann@gmail.co", "ann@gmail.com")]
    [InlineData("ann@gmail.cm", "ann@gmail.com")]
    [InlineData("ann@gmail.comm", "ann@gmail.com")]
    [InlineData("ann@gmail.ocm", "ann@gmail.com")]
    [InlineData("ann@gmailc.om", "ann@gmail.com")]
    [InlineData("ann@hotmial.com", "ann@hotmail.com")]
    [InlineData("ann@hotmal.com", "ann@hotmail.com")]
    [InlineData("ann@hotmai.com", "ann@hotmail.com")]
    [InlineData("ann@hotnail.com", "ann@hotmail.com")]
    [InlineData("ann@yahoo.co", "ann@yahoo.com")]
    [InlineData("ann@yaho.com", "ann@yahoo.com")]
    [InlineData("ann@yhaoo.com", "ann@yahoo.com")]
    [InlineData("ann@outlok.com", "ann@outlook.com")]
    [InlineData("ann@outllok.com", "ann@outlook.com")]
    [InlineData("ann@oulook.com", "ann@outlook.com")]
    [InlineData("ann@iclod.com", "ann@icloud.com")]
    [InlineData("ann@icoud.com", "ann@icloud.com")]
    [InlineData("ann@protonmial.com", "ann@protonmail.com")]
    [InlineData("ann@gmx.ed", "ann@gmx.de")]
    [InlineData("ann@gmx.dw", "ann@gmx.de")]
    [InlineData("ann@hotmail.ft", "ann@hotmail.fr")]
    [InlineData("ann@t-onlien.de", "ann@t-online.de")]
    [InlineData("ann@tonline.de", "ann@t-online.de")]
    [InlineData("ann@web.ed", "ann@web.de")]
    [InlineData("ann@yandex.r", "ann@yandex.ru")]
    [InlineData("ann@libreo.it", "ann@libero.it")]
    [InlineData("ann@orange.rf", "ann@orange.fr")]
    [InlineData("ann@aol.con", "ann@aol.com")]
    public void A_domain_one_typo_from_a_common_one_gets_a_suggestion(string typed, string suggested) =>
        Assert.Equal(suggested, Suggestions.Suggest(typed));

    // Real domains, several of them one edit from another real one: the list knows both.
    [Theory]
    [InlineData("ann@gmail.com")]
    [InlineData("ann@gmx.de")]
    [InlineData("ann@gmx.com")]
    [InlineData("ann@gmx.net")]
    [InlineData("ann@gmx.at")]
    [InlineData("ann@gmx.ch")]
    [InlineData("ann@web.de")]
    [InlineData("ann@t-online.de")]
    [InlineData("ann@mail.ru")]
    [InlineData("ann@mail.com")]
    [InlineData("ann@mail.de")]
    [InlineData("ann@email.com")]
    [InlineData("ann@yandex.ru")]
    [InlineData("ann@ya.ru")]
    [InlineData("ann@protonmail.com")]
    [InlineData("ann@protonmail.ch")]
    [InlineData("ann@proton.me")]
    [InlineData("ann@pm.me")]
    [InlineData("ann@icloud.com")]
    [InlineData("ann@me.com")]
    [InlineData("ann@mac.com")]
    [InlineData("ann@hotmail.de")]
    [InlineData("ann@hotmail.be")]
    [InlineData("ann@hotmail.fr")]
    [InlineData("ann@live.com")]
    [InlineData("ann@live.de")]
    [InlineData("ann@yahoo.ca")]
    [InlineData("ann@yahoo.co.uk")]
    [InlineData("ann@wp.pl")]
    [InlineData("ann@o2.pl")]
    [InlineData("ann@op.pl")]
    [InlineData("ann@qq.com")]
    [InlineData("ann@163.com")]
    [InlineData("ann@126.com")]
    [InlineData("ann@posteo.de")]
    [InlineData("ann@mailbox.org")]
    [InlineData("ann@fastmail.com")]
    [InlineData("ann@fastmail.fm")]
    public void A_listed_domain_is_never_corrected(string typed) => Assert.Null(Suggestions.Suggest(typed));

    // Domains the list does not know, and that are no typo of one it knows.
    [Theory]
    [InlineData("ann@news.example")]
    [InlineData("ann@university.edu")]
    [InlineData("ann@gmail.com.example")]
    [InlineData("ann@mail.gmail.com")]
    [InlineData("ann@gmial.con")] // two edits: too far to guess
    [InlineData("ann@gmc.com")] // an edit inside a short name is more often another name
    [InlineData("ann@wed.de")]
    [InlineData("ann@q.com")]
    [InlineData("ann@aok.com")]
    // another country's domain of a provider the list knows elsewhere (seen in a list of real free-mail domains)
    [InlineData("ann@yahoo.cz")]
    [InlineData("ann@yahoo.se")]
    [InlineData("ann@live.cn")]
    [InlineData("ann@hotmail.fi")]
    [InlineData("ann@outlook.kr")]
    [InlineData("ann@posteo.se")]
    [InlineData("ann@mail.be")]
    [InlineData("ann@gmx.us")]
    [InlineData("ann@yahoo.com.tr")]
    [InlineData("ann@uol.com.ar")]
    [InlineData("ann@y7mail.com")]
    public void A_domain_that_is_no_near_miss_gets_no_suggestion(string typed) => Assert.Null(Suggestions.Suggest(typed));

    [Theory]
    [InlineData("Ann.Lee+news@Gmial.com", "Ann.Lee+news@gmail.com")]
    [InlineData("  ann@hotmial.com  ", "ann@hotmail.com")]
    [InlineData("jörg@gmial.com", "jörg@gmail.com")]
    [InlineData("ann@GMIAL.COM", "ann@gmail.com")]
    [InlineData("ann@gmaíl.com", "ann@gmail.com")]
    public void The_suggestion_keeps_the_local_part_as_typed(string typed, string suggested) =>
        Assert.Equal(suggested, Suggestions.Suggest(typed));

    [Theory]
    [InlineData("ann@kundenpost.example", null)]
    [InlineData("ann@kundenpots.example", "ann@kundenpost.example")]
    [InlineData("ann@müllerpost.example", null)]
    [InlineData("ann@xn--mllerpost-q9a.example", null)]
    [InlineData("ann@müllerpots.example", "ann@müllerpost.example")]
    public void Configured_domains_are_known_and_suggested(string typed, string? suggested)
    {
        var configured = new DomainSuggestions(["kundenpost.example", "MÜLLERPOST.example"]);

        Assert.Equal(suggested, configured.Suggest(typed));
    }

    [Theory]
    [InlineData("mail.example", true)]
    [InlineData("müller.example", true)]
    [InlineData("xn--mller-kva.example", true)]
    [InlineData("localhost", false)]
    [InlineData("", false)]
    [InlineData("mail@example.com", false)]
    [InlineData("-mail.example", false)]
    [InlineData("192.0.2.1", false)]
    public void Only_mail_domains_can_be_configured(string domain, bool valid) =>
        Assert.Equal(valid, DomainSuggestions.IsMailDomain(domain));

    public static TheoryData<string?> HostileAddresses => new()
    {
        null,
        "",
        "@",
        "ann@",
        "@gmial.com",
        "ann@@gmial.com",
        "ann@gmial.com\u0000",
        "ann@gmial.com\r\nBcc: victim@example.com",
        "ann@gmi\u200Bal.com",
        "ann@gmial.com.",
        "ann@[192.0.2.1]",
        "\ud800@gmial.com",
        "ann@" + new string('a', 250) + ".com",
        "ann@" + string.Concat(Enumerable.Repeat("a.", 120)) + "com",
        new string('a', 64) + "@gmial.com",
        new string('a', 10_000) + "@gmial.com",
        "ann@gmаil.com", // Cyrillic а among Latin letters
        "ann@ɡmail.com",
        "ann@ｇｍａｉｌ.com",
    };

    [Theory]
    [MemberData(nameof(HostileAddresses))]
    public void Hostile_input_gets_no_suggestion_at_an_invalid_address_and_never_throws(string? typed)
    {
        var suggestion = Suggestions.Suggest(typed);

        // whatever comes back is itself an address the service accepts
        Assert.True(suggestion is null || EmailAddress.TryNormalize(suggestion, out _), suggestion);
    }

    [Fact]
    public void Every_shipped_domain_is_a_valid_mail_domain_listed_once()
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryPaths.Root, "src/Subscriptions.Api/Signup/Data/common-domains.txt"))
            .Select(line => line.Split('#')[0].Trim())
            .Where(line => line.Length > 0)
            .ToList();

        Assert.All(lines, domain => Assert.True(DomainSuggestions.IsMailDomain(domain), domain));
        Assert.Equal(lines.Count, lines.Distinct(StringComparer.Ordinal).Count());
        Assert.Contains("gmail.com", lines);
    }
}
