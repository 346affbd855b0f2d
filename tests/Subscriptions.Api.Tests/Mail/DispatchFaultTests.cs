using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Dapper;
using Npgsql;
using Subscriptions.Api.Outbox;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Mail;

/// <summary>SMTP failing in the ways real servers fail; each test has its own database and service.</summary>
public sealed class DispatchFaultTests(ApiFixture fixture) : OwnDatabaseTest(fixture)
{
    [Fact]
    public async Task Mail_waits_while_smtp_is_down_and_all_of_it_arrives_once_when_it_is_back()
    {
        await using var mail = new MailServer();
        await mail.StartAsync();
        // retries come every second here, not every hour: enough attempts to outlast the outage
        await using var app = StartApp(mail.Port, ("Outbox:MaxAttempts", "1000"));
        await mail.StopAsync();

        var emails = Addresses(50, "down");
        await SignUp(app, emails);
        await WaitUntil("SELECT count(*) = 50 FROM outbox WHERE attempts > 0 AND last_error IS NOT NULL", TimeSpan.FromSeconds(30));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL OR dead_at IS NOT NULL"));

        await mail.StartAsync();
        var messages = await mail.WaitForMessagesAsync(50, TimeSpan.FromSeconds(60));
        await WaitUntil("SELECT count(*) = 50 FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(10));

        Assert.Equal(emails.Order(), messages.Select(m => m.To.Mailboxes.Single().Address).Order());
        app.AssertNoErrorsLogged();
    }

    [Theory]
    [InlineData("refused")] // nothing listens
    [InlineData("421 4.7.0 Try again later, closing connection")] // a throttling relay
    [InlineData("454 Throttling failure: Maximum sending rate exceeded")] // Amazon SES's
    [InlineData("530 5.7.0 Authentication required", "MAIL")] // a relay that wants credentials none were configured for
    [InlineData("535 5.7.8 Authentication credentials invalid", "MAIL")] // a relay that no longer takes them
    public async Task While_the_relay_is_unavailable_each_connection_tries_one_mail_per_retry_delay_and_the_queue_keeps_its_attempts(
        string relay, string faultyCommand = "RCPT")
    {
        await using var mail = new MailServer();
        await mail.StartAsync();
        var refused = relay == "refused";
        await using var proxy = new FaultySmtpProxy(mail.Port, refusals: int.MaxValue, rcptReply: relay, faultyCommand);
        var retryDelay = TimeSpan.FromSeconds(1);
        await using var app = StartApp(refused ? mail.Port : proxy.Port, ("Outbox:SmtpConnections", "2"), ("Outbox:BatchSize", "10"),
            ("Outbox:MaxAttempts", "1000"), ("Outbox:RetryBaseDelay", "00:00:01"), ("Outbox:RetryMaxDelay", "00:00:02"));
        if (refused)
        {
            await mail.StopAsync();
        }

        var emails = Addresses(100, "refused"); // ten batches
        var start = Stopwatch.GetTimestamp();
        await SignUp(app, emails);
        await WaitUntil("SELECT count(*) > 0 FROM outbox WHERE attempts > 0", TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromSeconds(3));

        var attempts = await Scalar<long>("SELECT sum(attempts) FROM outbox");
        // each connection's first attempt, then one per retry delay (and one more, for timers' slack)
        var bound = 2 * (Stopwatch.GetElapsedTime(start) / retryDelay + 2);
        Assert.InRange(attempts, 1, (long)bound);
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL OR dead_at IS NOT NULL"));
        // the operator reads in the log what the relay said
        var said = refused ? "refused" : relay.Split(' ', 3)[2];
        Assert.Contains(app.Logs.GetSnapshot(), r => r.Level == Microsoft.Extensions.Logging.LogLevel.Warning
            && r.Message.Contains("because the relay or receiver did", StringComparison.Ordinal) && r.Message.Contains(said, StringComparison.Ordinal));

        if (refused)
        {
            await mail.StartAsync();
        }
        else
        {
            proxy.Recover();
        }

        var messages = await mail.WaitForMessagesAsync(100, TimeSpan.FromSeconds(60));
        await WaitUntil("SELECT count(*) = 100 FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(10));
        Assert.Equal(emails.Order(), messages.Select(m => m.To.Mailboxes.Single().Address).Order());
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_server_that_answers_451_is_retried_until_it_accepts()
    {
        await using var proxy = new FaultySmtpProxy(Fixture.Mail.Port, refusals: 2, "451 4.7.1 Greylisted, try again later");
        await using var app = new SubscriptionsApp(ConnectionString, Fixture.AppSettings(proxy.Port));

        await SignUp(app, ["greylisted@example.org"]);
        await WaitUntil("SELECT count(*) = 1 FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(30));

        Assert.Single(await Fixture.Mail.WaitForMailToAsync("greylisted@example.org"));
        Assert.Equal(2, proxy.Refused);
        Assert.Equal(3, await Scalar<int>("SELECT attempts FROM outbox"));
        Assert.StartsWith("451", await Scalar<string>("SELECT last_error FROM outbox"));
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_permanent_refusal_is_dead_lettered_with_its_reason()
    {
        await using var proxy = new FaultySmtpProxy(Fixture.Mail.Port, refusals: int.MaxValue, "550 5.1.1 No such mailbox");
        await using var app = new SubscriptionsApp(ConnectionString, Fixture.AppSettings(proxy.Port));

        await SignUp(app, ["nobody@example.org"]);
        await WaitUntil("SELECT count(*) = 1 FROM outbox WHERE dead_at IS NOT NULL", TimeSpan.FromSeconds(30));

        Assert.Equal(1, await Scalar<int>("SELECT attempts FROM outbox"));
        Assert.StartsWith("550", await Scalar<string>("SELECT last_error FROM outbox"));
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Transient_failures_are_dead_lettered_after_the_attempt_limit()
    {
        await using var proxy = new FaultySmtpProxy(Fixture.Mail.Port, refusals: int.MaxValue, "452 4.2.2 Mailbox full");
        var settings = Fixture.AppSettings(proxy.Port);
        settings["Outbox:MaxAttempts"] = "3";
        settings["Outbox:RetryBaseDelay"] = "00:00:00.050";
        await using var app = new SubscriptionsApp(ConnectionString, settings);

        await SignUp(app, ["full@example.org"]);
        await WaitUntil("SELECT count(*) = 1 FROM outbox WHERE dead_at IS NOT NULL", TimeSpan.FromSeconds(30));

        Assert.Equal(3, await Scalar<int>("SELECT attempts FROM outbox"));
        Assert.Equal(3, proxy.Refused);
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_mail_that_cannot_be_composed_is_retried_then_dead_lettered_and_the_mail_behind_it_goes_out()
    {
        await using var app = StartApp(overrides: [("Outbox:SmtpConnections", "1"), ("Outbox:MaxAttempts", "2")]);
        using var client = app.CreateHttpClient();
        await client.GetAsync("/health/ready"); // migrated
        // A sender MimeKit cannot parse: the lists API refuses it, but a row written by hand or by an
        // earlier version can hold one. It stands for any delivery that throws (a bug composing one mail).
        await Execute("""
            INSERT INTO lists (slug, name, sender_name, sender_email, consent_text, consent_text_version)
            VALUES ('broken', 'Broken', 'The Desk', 'desk..desk@news.example', 'I agree', '1')
            """);
        var poison = await client.PostAsJsonAsync("/api/subscriptions", new { email = "poison@example.org", consent = true, lists = new[] { "broken" } });
        Assert.Equal(HttpStatusCode.Accepted, poison.StatusCode);
        var emails = Addresses(20, "behind-poison");
        await SignUp(client, emails);

        await WaitUntil("SELECT count(*) = 20 FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(30));
        await WaitUntil("SELECT count(*) = 1 FROM outbox WHERE dead_at IS NOT NULL", TimeSpan.FromSeconds(30));

        var dead = await Scalar<string>("SELECT concat_ws(' ', id, attempts, last_error) FROM outbox WHERE dead_at IS NOT NULL");
        Assert.Matches(@"^\d+ 2 ParseException: ", dead);
        var received = (await Fixture.Mail.MessagesAsync())
            .Select(m => m.To.Mailboxes.Single().Address).Where(a => a.StartsWith("behind-poison", StringComparison.Ordinal)).ToList();
        Assert.Equal(emails.Order(), received.Order());
        // one error per attempt, naming the row (not the address) and carrying the exception
        var errors = app.Logs.GetSnapshot().Where(r => r.Level >= Microsoft.Extensions.Logging.LogLevel.Error).ToList();
        Assert.Equal(2, errors.Count);
        Assert.All(errors, e => Assert.Contains($"outbox row {dead.Split(' ')[0]}", e.Message));
        Assert.All(errors, e => Assert.IsType<MimeKit.ParseException>(e.Exception));
    }

    [Fact]
    public async Task A_utf8_address_is_dead_lettered_when_the_server_lacks_smtputf8()
    {
        // the proxy's EHLO advertises no extension at all
        await using var proxy = new FaultySmtpProxy(Fixture.Mail.Port, refusals: int.MaxValue, "250 2.1.5 OK");
        await using var app = new SubscriptionsApp(ConnectionString, Fixture.AppSettings(proxy.Port));

        await SignUp(app, ["δοκιμή@example.org"]);
        await WaitUntil("SELECT count(*) = 1 FROM outbox WHERE dead_at IS NOT NULL", TimeSpan.FromSeconds(30));

        Assert.Contains("SMTPUTF8", await Scalar<string>("SELECT last_error FROM outbox"));
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Stopping_the_service_mid_send_hands_the_claimed_mail_back_at_once()
    {
        await using var proxy = new FaultySmtpProxy(Fixture.Mail.Port, refusals: int.MaxValue, rcptReply: null);
        var app = new SubscriptionsApp(ConnectionString, Fixture.AppSettings(proxy.Port));
        await SignUp(app, ["patient@example.org"]);
        await WaitUntil("SELECT count(*) = 1 FROM outbox WHERE locked_until IS NOT NULL", TimeSpan.FromSeconds(30));
        var logs = app.Logs;

        await app.DisposeAsync(); // a graceful stop, as SIGTERM gives

        Assert.True(await Scalar<bool>("""
            SELECT locked_until IS NULL AND sent_at IS NULL AND dead_at IS NULL AND last_error IS NULL AND due_at <= now()
            FROM outbox
            """), "the claimed mail was not handed back, due at once");
        Assert.DoesNotContain(logs.GetSnapshot(), r => r.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
    }

    [Fact]
    public async Task Two_instances_on_one_database_send_every_message_exactly_once()
    {
        await using var first = new SubscriptionsApp(ConnectionString, Fixture.AppSettings());
        await using var second = new SubscriptionsApp(ConnectionString, Fixture.AppSettings());
        var emails = Addresses(100, "twice");

        await Task.WhenAll(SignUp(first, emails.Where((_, i) => i % 2 == 0)), SignUp(second, emails.Where((_, i) => i % 2 == 1)));
        await WaitUntil("SELECT count(*) = 100 FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(60));

        var received = (await Fixture.Mail.MessagesAsync())
            .Select(m => m.To.Mailboxes.Single().Address).Where(a => a.StartsWith("twice", StringComparison.Ordinal)).ToList();
        Assert.Equal(emails.Order(), received.Order());
        Assert.Equal(100, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'confirmation_sent'"));
        first.AssertNoErrorsLogged();
        second.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_signup_wakes_its_instance_dispatcher_without_waiting_for_the_poll()
    {
        var settings = Fixture.AppSettings();
        settings["Outbox:PollInterval"] = "00:10:00";
        await using var app = new SubscriptionsApp(ConnectionString, settings);
        using var client = app.CreateHttpClient();
        await client.GetAsync("/health/ready");
        await Task.Delay(500); // the dispatcher had its first look at start and now sleeps for ten minutes

        await SignUp(app, ["prompt@example.org"]);

        await WaitUntil("SELECT count(*) = 1 FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(5));
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Queued_mail_goes_out_over_several_connections_and_each_message_once()
    {
        await using var proxy = new FaultySmtpProxy(Fixture.Mail.Port, refusals: 0, rcptReply: null);
        await using var app = new SubscriptionsApp(ConnectionString, Fixture.AppSettings(proxy.Port));
        using (var client = app.CreateHttpClient())
        {
            await client.GetAsync("/health/ready"); // migrated
        }

        await Scalar<int>("""
            WITH s AS (
                INSERT INTO subscribers (email, email_as_typed, created_at, updated_at)
                SELECT 'parallel' || i || '@example.org', 'parallel' || i || '@example.org', now(), now()
                FROM generate_series(1, 200) AS i
                RETURNING id),
            sub AS (
                INSERT INTO subscriptions (subscriber_id, list_id, status, created_at, updated_at, consent_at, consent_text_version)
                SELECT id, 1, 'pending', now(), now(), now(), '1' FROM s
                RETURNING id),
            queued AS (
                INSERT INTO outbox (subscription_id, kind, created_at, due_at) SELECT id, 'confirmation', now(), now() FROM sub)
            SELECT 0
            """);
        await WaitUntil("SELECT count(*) = 200 FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(60));

        var received = (await Fixture.Mail.MessagesAsync())
            .Select(m => m.To.Mailboxes.Single().Address).Where(a => a.StartsWith("parallel", StringComparison.Ordinal)).ToList();
        Assert.Equal(Enumerable.Range(1, 200).Select(i => $"parallel{i}@example.org").Order(), received.Order());
        // a full batch wakes the next worker, and each worker keeps its one connection: several, never one per
        // message. (Not at most 200 / BatchSize: workers that wake together split the last rows between them.)
        Assert.InRange(proxy.Connections, 2, new OutboxOptions().SmtpConnections);
        app.AssertNoErrorsLogged();
    }
}
