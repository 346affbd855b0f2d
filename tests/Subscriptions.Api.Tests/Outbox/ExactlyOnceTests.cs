using Dapper;
using Subscriptions.Api.Outbox;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Outbox;

/// <summary>
/// A mail is delivered at most once while its claim holds, and a worker whose lease ran out
/// delivers nothing more: with a relay that stays silent, one that is slower per message than
/// the lease allows a batch, outcomes that cannot be written for longer than a lease, and an
/// instance killed mid-dispatch. Each test runs two instances on a database of its own, with a
/// short lease (five seconds; two where the outcomes are held).
/// </summary>
public sealed class ExactlyOnceTests(ApiFixture fixture) : OwnDatabaseTest(fixture)
{
    static readonly (string, string?)[] ShortLease = [("Smtp:Timeout", "00:00:02"), ("Outbox:Lease", "00:00:05")];

    async Task<Dictionary<string, int>> MailsPerAddress(string prefix) =>
        (await Fixture.Mail.RecipientsAsync()).Where(a => a.StartsWith(prefix, StringComparison.Ordinal))
            .GroupBy(a => a).ToDictionary(g => g.Key, g => g.Count());

    [Fact]
    public async Task A_relay_that_accepts_and_stays_silent_then_recovers_delivers_each_mail_once()
    {
        await using var relay = new RelayProxy(Fixture.Mail.Port) { SilentUntil = DateTime.UtcNow.AddSeconds(8) };
        await using var first = StartApp(relay.Port, ShortLease);
        await using var second = StartApp(relay.Port, ShortLease);
        var emails = Addresses(60, "silent");

        await Task.WhenAll(SignUp(first, emails[..30]), SignUp(second, emails[30..]));
        await WaitUntil("SELECT count(*) = 60 FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(1)); // a duplicate would arrive about now

        var mails = await MailsPerAddress("silent");
        Assert.True(relay.SilentConnections > 0, "the relay was never silent to anyone");
        Assert.Equal(emails.Order(), mails.Keys.Order());
        Assert.All(mails, m => Assert.True(m.Value == 1, $"{m.Key} got {m.Value} mails"));
        Assert.Equal(60, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'confirmation_sent'"));
        first.AssertNoErrorsLogged();
        second.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_relay_slower_per_message_than_the_lease_allows_a_batch_delivers_each_mail_once()
    {
        // 0.3 s a message, batches of 50: a batch takes 15 s, three times the lease
        await using var relay = new RelayProxy(Fixture.Mail.Port) { PerMessageDelay = TimeSpan.FromMilliseconds(300) };
        var settings = ShortLease.Append(("Outbox:PollInterval", "00:00:00.500")).ToArray();
        await using var first = StartApp(relay.Port, settings);
        await using var second = StartApp(relay.Port, settings);
        var emails = Addresses(120, "slow");

        await Task.WhenAll(SignUp(first, emails[..60]), SignUp(second, emails[60..]));
        await WaitUntil("SELECT count(*) = 120 FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(90));
        await Task.Delay(TimeSpan.FromSeconds(1));

        var mails = await MailsPerAddress("slow");
        Assert.Equal(emails.Order(), mails.Keys.Order());
        Assert.All(mails, m => Assert.True(m.Value == 1, $"{m.Key} got {m.Value} mails"));
        first.AssertNoErrorsLogged();
        second.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Outcomes_that_cannot_be_written_for_longer_than_the_lease_keep_their_mail_from_other_workers()
    {
        // Each outcome goes into the ledger (subscription_events) as well: while another session holds
        // that table, a write of outcomes waits, and outcomes that came meanwhile queue behind it.
        // The instances are alive all along, so nothing they sent may be taken over and sent again.
        await using var relay = new RelayProxy(Fixture.Mail.Port) { PerMessageDelay = TimeSpan.FromMilliseconds(200) };
        (string, string?)[] settings = [("Smtp:Timeout", "00:00:01"), ("Outbox:Lease", "00:00:02"), ("Outbox:PollInterval", "00:00:00.200")];
        await using var first = StartApp(relay.Port, settings);
        await using var second = StartApp(relay.Port, settings);
        var emails = Addresses(60, "held");

        await Task.WhenAll(SignUp(first, emails[..30]), SignUp(second, emails[30..]));
        await using (var connection = await Database.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await connection.ExecuteAsync("LOCK TABLE subscription_events IN EXCLUSIVE MODE", transaction: transaction);
            await Task.Delay(TimeSpan.FromSeconds(6)); // three leases
            Assert.True(await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL", transaction: transaction) < 60,
                "every mail was recorded before the ledger was held: the test tested nothing");
            await transaction.CommitAsync();
        }

        await WaitUntil("SELECT count(*) = 60 FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(1));

        var mails = await MailsPerAddress("held");
        Assert.Equal(emails.Order(), mails.Keys.Order());
        Assert.All(mails, m => Assert.True(m.Value == 1, $"{m.Key} got {m.Value} mails"));
        Assert.Equal(60, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'confirmation_sent'"));
    }

    [Fact]
    public async Task Killing_the_sending_instance_mid_dispatch_re_sends_at_most_one_mail_per_connection()
    {
        await using var relay = new RelayProxy(Fixture.Mail.Port) { PerMessageDelay = TimeSpan.FromMilliseconds(100) };
        var environment = Settings(relay.Port, ShortLease);
        environment["ConnectionStrings:Subscriptions"] = ConnectionString;
        var emails = Addresses(120, "killed");

        var doomed = await RunningService.StartAsync(environment);
        using (var client = doomed.CreateHttpClient())
        {
            await SignUp(client, emails);
        }

        await Eventually.TrueAsync(async () => (await MailsPerAddress("killed")).Count >= 20, TimeSpan.FromSeconds(30), "20 mails sent");
        await doomed.DisposeAsync(); // SIGKILL: no chance to hand anything back
        var claimedWhenKilled = await Scalar<long>("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND locked_until > now()");

        await using var survivor = await RunningService.StartAsync(environment);
        await WaitUntil("SELECT count(*) = 120 FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(90));
        await Task.Delay(TimeSpan.FromSeconds(1));

        var mails = await MailsPerAddress("killed");
        Assert.Equal(emails.Order(), mails.Keys.Order());
        var extra = mails.Values.Sum() - emails.Length;
        Assert.True(claimedWhenKilled > 0, "nothing was claimed when the instance died: the test did not test a takeover");
        Assert.InRange(extra, 0, new OutboxOptions().SmtpConnections); // one message in flight on each connection
        Assert.All(mails, m => Assert.InRange(m.Value, 1, 2));
    }
}
