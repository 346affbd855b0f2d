using System.Diagnostics;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Subscriptions.Api.Signup;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Signup;

/// <summary>The MX check against a real DNS server on 127.0.0.1 that this test starts.</summary>
public sealed class MailDomainCheckTests : IDisposable
{
    readonly DnsTestServer _dns = new DnsTestServer()
        .Mx("mx.dns-test.example", "mail.dns-test.example")
        .A("a-only.dns-test.example")
        .Aaaa("aaaa-only.dns-test.example")
        .Add("nothing.dns-test.example") // exists, with no MX, A or AAAA record
        .Mx("null-mx.dns-test.example", ".", preference: 0)
        .Fail("servfail.dns-test.example", ReturnCode.ServerFailure)
        .Fail("refused.dns-test.example", ReturnCode.Refused)
        .Mx("xn--bcher-kva.dns-test.example", "mail.dns-test.example");

    static MailDomainCheck Check(string server, TimeSpan? timeout = null, bool enabled = true) => new(Options.Create(new MailDomainCheckOptions
    {
        CheckMx = enabled,
        DnsServers = [server],
        MxTimeout = timeout ?? TimeSpan.FromSeconds(1.5),
    }), NullLogger<MailDomainCheck>.Instance);

    [Theory]
    [InlineData("ann@mx.dns-test.example", MailDomainStatus.Receives)]
    [InlineData("ann@a-only.dns-test.example", MailDomainStatus.Receives)]
    [InlineData("ann@aaaa-only.dns-test.example", MailDomainStatus.Receives)]
    [InlineData("ann@Bücher.dns-test.example", MailDomainStatus.Receives)] // asked as punycode
    [InlineData("ann@nothing.dns-test.example", MailDomainStatus.NoMail)]
    [InlineData("ann@no-such-name.dns-test.example", MailDomainStatus.NoMail)]
    [InlineData("ann@null-mx.dns-test.example", MailDomainStatus.NoMail)]
    [InlineData("ann@servfail.dns-test.example", MailDomainStatus.Unknown)]
    [InlineData("ann@refused.dns-test.example", MailDomainStatus.Unknown)]
    public async Task DNS_decides_whether_a_domain_receives_mail_and_failures_never_refuse(string address, MailDomainStatus expected)
    {
        using var check = Check(_dns.Address);

        Assert.Equal(expected, await check.StatusAsync(address, CancellationToken.None));
        Assert.Equal(expected != MailDomainStatus.NoMail, await check.MayReceiveMailAsync(address, CancellationToken.None));
    }

    [Fact]
    public async Task An_MX_answer_needs_no_A_query_and_a_domain_without_MX_asks_for_A_and_AAAA()
    {
        using var check = Check(_dns.Address);

        await check.StatusAsync("ann@mx.dns-test.example", CancellationToken.None);
        await check.StatusAsync("ann@a-only.dns-test.example", CancellationToken.None);

        Assert.Equal([RecordType.Mx], _dns.Queries.Where(q => q.Name == "mx.dns-test.example").Select(q => q.Type));
        Assert.Equal(new HashSet<RecordType> { RecordType.Mx, RecordType.A, RecordType.Aaaa },
            _dns.Queries.Where(q => q.Name == "a-only.dns-test.example").Select(q => q.Type).ToHashSet());
    }

    [Theory]
    [InlineData("ann@mx.dns-test.example")]
    [InlineData("ann@nothing.dns-test.example")]
    [InlineData("ann@servfail.dns-test.example")]
    public async Task A_second_lookup_of_a_domain_asks_no_DNS_server_whatever_the_first_answer(string address)
    {
        using var check = Check(_dns.Address);
        var first = await check.StatusAsync(address, CancellationToken.None);
        var queries = _dns.Queries.Count;

        var second = await check.StatusAsync(address.Replace("ann@", "bob@", StringComparison.Ordinal).ToUpperInvariant(), CancellationToken.None);

        Assert.True(queries > 0);
        Assert.Equal(first, second);
        Assert.Equal(queries, _dns.Queries.Count);
    }

    [Fact]
    public async Task A_server_that_never_answers_costs_at_most_the_budget_and_the_address_is_taken()
    {
        using var silent = new SilentDnsServer();
        using var check = Check(silent.Address, TimeSpan.FromMilliseconds(500));

        var clock = Stopwatch.StartNew();
        var status = await check.StatusAsync("ann@a-only.dns-test.example", CancellationToken.None);
        var elapsed = clock.Elapsed;

        Assert.Equal(MailDomainStatus.Unknown, status);
        Assert.InRange(elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(1500)); // the budget, and the loaded machine's slack
        clock.Restart();
        Assert.True(await check.MayReceiveMailAsync("bob@a-only.dns-test.example", CancellationToken.None));
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(100), $"{clock.Elapsed}: the failure was not kept");
    }

    [Fact]
    public async Task Switched_off_it_asks_nothing()
    {
        using var check = Check(_dns.Address, enabled: false);

        Assert.True(await check.MayReceiveMailAsync("ann@nothing.dns-test.example", CancellationToken.None));
        Assert.Empty(_dns.Queries);
    }

    [Theory]
    [InlineData("192.0.2.53", true)]
    [InlineData("192.0.2.53:5353", true)]
    [InlineData("[2001:db8::53]:53", true)]
    [InlineData("2001:db8::53", true)]
    [InlineData("dns.example", false)]
    [InlineData("192.0.2.53:0", false)]
    [InlineData("192.0.2.53:70000", false)]
    [InlineData("", false)]
    public void Resolver_addresses_are_IP_addresses_with_an_optional_port(string value, bool valid) =>
        Assert.Equal(valid, MailDomainCheckOptions.TryParseServer(value, out _));

    public void Dispose() => _dns.Dispose();
}
