using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Subscriptions.Api.Data;
using Subscriptions.Api.Outbox;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Deploy;

/// <summary>
/// The deployment of src/deploy/ (the HAProxy and PgBouncer configurations docker-compose.yml's
/// "topology" profile runs) on loopback: every request goes through HAProxy, as a reader's would,
/// from loopback addresses of the readers' own (<see cref="LoopbackClients"/>); each test uses a
/// block of addresses of its own, so the edge's and the instances' per-address counts of one test
/// do not reach into another's.
/// </summary>
[Collection(TopologyCollection.Name)]
public sealed class TopologyTests(TopologyFixture topology) : IAsyncLifetime
{
    public Task InitializeAsync() => topology.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Two_thousand_concurrent_signups_through_HAProxy_and_PgBouncer_are_each_stored_once_and_mailed_once()
    {
        const int count = 2000, readers = 250;
        var emails = Enumerable.Range(0, count).Select(i => $"crowd{i}@example.org").ToArray();
        var clients = Enumerable.Range(0, readers).Select(r => LoopbackClients.From(LoopbackClients.Address(1, r), topology.Edge.Address)).ToArray();
        var answeredBefore = await Task.WhenAll(Enumerable.Range(0, 2).Select(i => topology.Edge.ServerAsync(i)));
        try
        {
            // all at once: HAProxy queues what the instances' connection limits do not take yet
            var statuses = await Task.WhenAll(emails.Select((email, i) => SignUpAsync(clients[i % readers], email)));
            Assert.True(statuses.All(s => s == HttpStatusCode.Accepted),
                $"not all accepted: {Tally(statuses)}\n{topology.Logs()}");
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }

        // both instances took their share
        for (var i = 0; i < 2; i++)
        {
            var answered = (await topology.Edge.ServerAsync(i)).Responses - answeredBefore[i].Responses;
            Assert.True(answered >= count / 4, $"instance {i} answered {answered} of {count}");
        }

        Assert.Equal(count, await Scalar<long>("SELECT count(*) FROM subscribers"));
        Assert.Equal(count, await Scalar<long>("SELECT count(DISTINCT subscriber_id) FROM subscriptions"));
        Assert.Equal(count, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'signup'"));
        // each reader's own address, as HAProxy forwarded it, not HAProxy's
        Assert.Equal(readers, await Scalar<long>("SELECT count(DISTINCT consent_ip) FROM subscriptions"));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscriptions WHERE NOT consent_ip << inet '127.1.0.0/16'"));

        await WaitUntilAllSentAsync(count, TimeSpan.FromSeconds(120));
        var mails = await MailsPerAddressAsync("crowd", count, TimeSpan.FromSeconds(60));
        Assert.Equal(emails.Order(), mails.Keys.Order());
        var repeated = mails.Where(m => m.Value != 1).Select(m => m.Key).ToArray();
        Assert.True(repeated.Length == 0, $"{repeated.Length} addresses got more than one mail; their outbox rows:\n{await OutboxHistoryAsync(repeated)}\n{topology.Logs()}");
        Assert.Equal(count, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'confirmation_sent'"));
    }

    [Fact]
    public async Task Killing_an_instance_mid_run_loses_no_accepted_signup_and_the_other_delivers_what_it_had_claimed_after_the_lease()
    {
        // the first instance's mail now takes 0.2 s a message, so it holds claims when it dies
        topology.FirstInstanceRelay.PerMessageDelay = TimeSpan.FromMilliseconds(200);
        const int count = 600;
        var emails = Enumerable.Range(0, count).Select(i => $"kill{i}@example.org").ToArray();
        var answers = new ConcurrentQueue<(string Email, HttpStatusCode Status)>();
        var load = RunAsync(emails, block: 2, concurrency: 16, answers);

        await Eventually.TrueAsync(() => Task.FromResult(topology.FirstInstanceRelay.HeldMessages > 0 && answers.Count >= count / 4 || load.IsCompleted),
            TimeSpan.FromSeconds(60), "the first instance sending mail, a quarter of the signups answered");
        Assert.False(load.IsCompleted, "the signups were all answered before the kill: the test tested nothing");
        await topology.KillAsync(0);
        var claimed = (await QueryAsync<(long Id, DateTime LockedUntil)>("""
            SELECT id, locked_until FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL AND locked_until > now()
            """)).ToList();
        await load;

        var accepted = answers.Where(a => a.Status == HttpStatusCode.Accepted).Select(a => a.Email).ToHashSet();
        Assert.True(accepted.Count == count, $"not all accepted: {Tally(answers.Select(a => a.Status))}\n{topology.Logs()}");
        var stored = (await QueryAsync<string>("SELECT email FROM subscribers")).ToHashSet();
        Assert.Empty(accepted.Except(stored));

        await WaitUntilAllSentAsync(stored.Count, TimeSpan.FromSeconds(90));
        var mails = await MailsPerAddressAsync("kill", accepted.Count, TimeSpan.FromSeconds(60));
        Assert.Empty(accepted.Except(mails.Keys));
        // a message the dead instance had handed to the relay may arrive twice: one per SMTP connection at most
        Assert.InRange(mails.Values.Sum() - mails.Count, 0, new OutboxOptions().SmtpConnections);

        // what was claimed when it died (by the dead instance; the survivor sends its own at once) was
        // sent only once its lease had run out, and by then only the survivor was running
        Assert.True(claimed.Count > 0, "nothing was claimed when the instance died: the test did not test a takeover");
        var takenOver = await Scalar<long>("""
            SELECT count(*) FROM outbox o JOIN unnest(@ids, @leases) AS c(id, locked_until) ON c.id = o.id
            WHERE o.sent_at >= c.locked_until
            """, new { ids = claimed.Select(c => c.Id).ToArray(), leases = claimed.Select(c => c.LockedUntil).ToArray() });
        Assert.True(takenOver > 0, $"none of the {claimed.Count} messages claimed at the kill was sent after its lease");
    }

    [Fact]
    public async Task The_export_through_HAProxy_is_read_from_the_standby()
    {
        using var reader = LoopbackClients.From(LoopbackClients.Address(3, 0), topology.Edge.Address);
        using var admin = LoopbackClients.From(LoopbackClients.Address(3, 1), topology.Edge.Address);
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiFixture.AdminKey);
        foreach (var email in new[] { "first@example.org", "second@example.org" })
        {
            Assert.Equal(HttpStatusCode.Accepted, await SignUpAsync(reader, email));
        }

        await topology.Standby.WaitUntilCaughtUpAsync();
        var (headers, body) = await ExportAsync(admin);
        Assert.Contains("first@example.org", body);
        Assert.Contains("second@example.org", body);
        // set only when the export's connection is a standby's (ReadOnlyDatabase): its replay time and lag
        Assert.True(headers.Contains("Replica-Replayed-At"), "no Replica-Replayed-At: the export did not read a replica");
        Assert.True(headers.Contains("Replica-Lag"), "no Replica-Lag");

        // the standby stops replaying: the primary takes a signup the export does not see yet
        await topology.Standby.PauseReplayAsync();
        Assert.Equal(HttpStatusCode.Accepted, await SignUpAsync(reader, "late@example.org"));
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM subscribers WHERE email = 'late@example.org'"));
        await topology.Standby.WaitUntilReceivedAsync();
        for (var i = 0; i < 2; i++)
        {
            // twice, so each instance answers once (round robin)
            (_, body) = await ExportAsync(admin);
            Assert.DoesNotContain("late@example.org", body);
            Assert.Contains("first@example.org", body);
        }

        await topology.Standby.ResumeReplayAsync();
        await topology.Standby.WaitUntilCaughtUpAsync();
        (_, body) = await ExportAsync(admin);
        Assert.Contains("late@example.org", body);
    }

    [Fact]
    public async Task A_rolling_restart_one_instance_at_a_time_fails_no_request()
    {
        var answers = new ConcurrentQueue<(int N, HttpStatusCode? Status, string? Error)>();
        var next = 0;
        using var stop = new CancellationTokenSource();
        // readers signing up on four connections, each from an address of its own, about 25 a second
        // each (paced: what is tested is that none fails, not how many there are), until stopped
        var load = Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(40));
                var n = Interlocked.Increment(ref next);
                Assert.True(n < 60_000, "the load did not stop");
                using var client = LoopbackClients.From(LoopbackClients.Address(4, n), topology.Edge.Address);
                try
                {
                    answers.Enqueue((n, await SignUpAsync(client, $"roll{n}@example.org"), null));
                }
                catch (HttpRequestException ex)
                {
                    answers.Enqueue((n, null, ex.Message));
                }
            }
        }));

        try
        {
            await WaitForAnswersAsync(answers, 20);
            for (var i = 0; i < 2; i++)
            {
                var before = answers.Count;
                await topology.RestartAsync(i);
                Assert.True(answers.Count > before, $"no request was answered while instance {i} restarted");
                await WaitForAnswersAsync(answers, answers.Count + 20);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await load;
        }

        var failed = answers.Where(a => a.Status != HttpStatusCode.Accepted).ToList();
        Assert.True(failed.Count == 0, $"{failed.Count} of {answers.Count} requests failed: "
            + string.Join("; ", failed.Take(10).Select(f => $"#{f.N} {f.Status?.ToString() ?? f.Error}")) + $"\n{topology.Logs()}");
        Assert.Equal(answers.Count, await Scalar<long>("SELECT count(*) FROM subscribers WHERE email LIKE 'roll%'"));
        await WaitUntilAllSentAsync(answers.Count, TimeSpan.FromSeconds(90));
        var mails = await MailsPerAddressAsync("roll", answers.Count, TimeSpan.FromSeconds(60));
        Assert.Equal(answers.Select(a => $"roll{a.N}@example.org").Order(), mails.Keys.Order());
    }

    [Fact]
    public async Task The_edge_refuses_an_address_past_its_rate_while_others_pass_and_the_instances_count_the_forwarded_address()
    {
        using var greedy = LoopbackClients.From(LoopbackClients.Address(5, 0), topology.Edge.Address);
        using var other = LoopbackClients.From(LoopbackClients.Address(5, 1), topology.Edge.Address);
        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < TopologyFixture.EdgeRequestsPer10Seconds + 10; i++)
        {
            answers.Add(await greedy.GetAsync("/signup/thank-you"));
        }

        var passed = answers.TakeWhile(a => a.StatusCode == HttpStatusCode.OK).Count();
        Assert.InRange(passed, TopologyFixture.EdgeRequestsPer10Seconds - 5, TopologyFixture.EdgeRequestsPer10Seconds);
        var refused = answers.Skip(passed).ToList();
        Assert.All(refused, a =>
        {
            // HAProxy's own answer: no instance saw these requests
            Assert.Equal(HttpStatusCode.TooManyRequests, a.StatusCode);
            Assert.Equal("text/plain", a.Content.Headers.ContentType?.MediaType);
            Assert.True(a.Headers.Contains("X-Edge-Limit"));
            Assert.Equal(TimeSpan.FromSeconds(10), a.Headers.RetryAfter?.Delta);
        });
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/signup/thank-you")).StatusCode);
        answers.ForEach(a => a.Dispose());

        // The instances' own limit (10 signups at once per address, then 5 a minute; each instance
        // counts its own) acts on the address HAProxy forwards: one reader is refused, another is not.
        using var eager = LoopbackClients.From(LoopbackClients.Address(5, 2), topology.Edge.Address);
        var eagerAnswers = new List<(HttpStatusCode Status, string? MediaType)>();
        for (var i = 0; i < 30; i++)
        {
            using var response = await eager.PostAsJsonAsync("/api/subscriptions", new { email = $"eager{i}@example.org", consent = true });
            eagerAnswers.Add((response.StatusCode, response.Content.Headers.ContentType?.MediaType));
        }

        var eagerAccepted = eagerAnswers.Count(a => a.Status == HttpStatusCode.Accepted);
        Assert.InRange(eagerAccepted, 10, 22);
        Assert.All(eagerAnswers.Where(a => a.Status != HttpStatusCode.Accepted), a =>
        {
            // the instance's answer, not the edge's
            Assert.Equal(HttpStatusCode.TooManyRequests, a.Status);
            Assert.Equal("application/problem+json", a.MediaType);
        });

        // a reader's own X-Forwarded-For is dropped at the edge: the stored address is the one it came from
        using var patient = LoopbackClients.From(LoopbackClients.Address(5, 3), topology.Edge.Address);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/subscriptions")
        {
            Content = JsonContent.Create(new { email = "patient@example.org", consent = true }),
        };
        request.Headers.Add("X-Forwarded-For", "203.0.113.7");
        Assert.Equal(HttpStatusCode.Accepted, (await patient.SendAsync(request)).StatusCode);

        Assert.Equal(new[] { "127.5.0.4" }, await QueryAsync<string>("SELECT DISTINCT host(consent_ip) FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id WHERE s.email LIKE 'eager%'"));
        Assert.Equal(eagerAccepted, await Scalar<long>("SELECT count(*) FROM subscribers WHERE email LIKE 'eager%'"));
        Assert.Equal("127.5.0.5", await Scalar<string>("SELECT host(consent_ip) FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id WHERE s.email = 'patient@example.org'"));
    }

    [Fact]
    public async Task An_import_through_HAProxy_and_PgBouncer_stages_and_writes_in_its_transactions()
    {
        // a Mailchimp audience export: the import stages it on four connections, two parts at a time,
        // each in a transaction that PgBouncer may run on any of its server connections
        const int count = 300;
        var file = new StringBuilder("Email Address,First Name,Last Name,Address,Phone Number,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,NOTES,TAGS\n");
        for (var i = 0; i < count; i++)
        {
            file.Append(CultureInfo.InvariantCulture,
                $"moved{i}@example.org,Reader,{i},,,2,2023-04-01 09:00:00,198.51.100.7,2023-04-01 09:05:00,198.51.100.7,,,,,,,,2023-04-01 09:05:00,{i},e{i},,\n");
        }

        using var admin = LoopbackClients.From(LoopbackClients.Address(6, 0), topology.Edge.Address);
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiFixture.AdminKey);
        for (var run = 0; run < 2; run++)
        {
            // twice: the second run meets every address in the database, and finds no staging table left behind
            using var response = await admin.PostAsync("/api/admin/import?sendConfirmations=false",
                new StringContent(file.ToString(), Encoding.UTF8, "text/csv"));
            var report = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"import: {(int)response.StatusCode} {report}\n{topology.Logs()}");
            using var json = JsonDocument.Parse(report);
            Assert.Equal(run == 0 ? count : 0, json.RootElement.GetProperty("created").GetInt64());
            Assert.Equal(run == 0 ? 0 : count, json.RootElement.GetProperty("kept").GetInt64());
        }

        Assert.Equal(count, await Scalar<long>("SELECT count(*) FROM subscriptions WHERE status = 'confirmed' AND host(consent_ip) = '198.51.100.7'"));
    }

    [Fact]
    public async Task Instances_migrating_together_through_PgBouncer_in_transaction_mode_apply_each_script_once()
    {
        // a fresh database, migrated by four hosts at once through the pooler (the instances of this
        // fixture did the same at its start); the migration lock is a transaction's, which PgBouncer
        // keeps on one server connection, where a session's lock would be taken on one and released on another
        var connectionString = await topology.Primary.CreateDatabaseAsync();
        var database = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        var throughBouncer = topology.Bouncer.ConnectionString(database);

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            await using var dataSource = NpgsqlDataSource.Create(throughBouncer);
            await new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(cancel.Token);
        })));

        await using var direct = new NpgsqlConnection(connectionString);
        Assert.Equal(0, await direct.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM (SELECT scriptname FROM schemaversions GROUP BY scriptname HAVING count(*) > 1) d"));
        Assert.Equal(Directory.GetFiles(Path.Combine(RepositoryPaths.Root, "migrations"), "*.sql").Length,
            await direct.ExecuteScalarAsync<long>("SELECT count(*) FROM schemaversions"));
        // no lock left behind on any of PgBouncer's server connections
        Assert.Equal(0, await direct.ExecuteScalarAsync<long>("""
            SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """));
        await direct.CloseAsync();
        await topology.Primary.DropDatabaseAsync(connectionString);
    }

    static async Task<HttpStatusCode> SignUpAsync(HttpClient client, string email)
    {
        using var response = await client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true });
        return response.StatusCode;
    }

    /// <summary>Signs up every address, <paramref name="concurrency"/> at a time, each reader from an address of the block of its own.</summary>
    Task RunAsync(string[] emails, int block, int concurrency, ConcurrentQueue<(string Email, HttpStatusCode Status)> answers)
    {
        var next = -1;
        return Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int n;
            while ((n = Interlocked.Increment(ref next)) < emails.Length)
            {
                using var client = LoopbackClients.From(LoopbackClients.Address(block, n), topology.Edge.Address);
                answers.Enqueue((emails[n], await SignUpAsync(client, emails[n])));
            }
        }));
    }

    static string Tally(IEnumerable<HttpStatusCode> statuses) =>
        string.Join(", ", statuses.GroupBy(s => s).Select(g => $"{(int)g.Key}: {g.Count()}"));

    static Task WaitForAnswersAsync<T>(ConcurrentQueue<T> answers, int count) =>
        Eventually.TrueAsync(() => Task.FromResult(answers.Count >= count), TimeSpan.FromSeconds(30), $"{count} answers");

    async Task WaitUntilAllSentAsync(int count, TimeSpan timeout)
    {
        try
        {
            await Eventually.TrueAsync(
                async () => await Scalar<long>("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL") >= count,
                timeout, $"{count} mails sent");
        }
        catch (Xunit.Sdk.XunitException)
        {
            var state = await QueryAsync<string>("""
                SELECT concat_ws(' ', count(*), 'rows:', count(sent_at), 'sent,', count(dead_at), 'dead,', count(*) FILTER (WHERE locked_until > now()), 'claimed') FROM outbox
                """);
            Assert.Fail($"not all {count} mails were sent: {string.Join("", state)}\n{topology.Logs()}");
        }
    }

    /// <summary>
    /// Waits (bounded) until at least <paramref name="count"/> messages to addresses starting with
    /// <paramref name="prefix"/> arrived, then a moment longer (a duplicate would arrive about now), and counts them per address.
    /// </summary>
    async Task<Dictionary<string, int>> MailsPerAddressAsync(string prefix, int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        List<string> recipients;
        while ((recipients = [.. (await topology.Mail.RecipientsAsync()).Where(r => r.StartsWith(prefix, StringComparison.Ordinal))]).Count < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{recipients.Count} of {count} mails arrived in time");
            await Task.Delay(200);
        }

        await Task.Delay(TimeSpan.FromSeconds(1));
        return (await topology.Mail.RecipientsAsync()).Where(r => r.StartsWith(prefix, StringComparison.Ordinal))
            .GroupBy(r => r).ToDictionary(g => g.Key, g => g.Count());
    }

    static async Task<(HttpResponseHeaders Headers, string Body)> ExportAsync(HttpClient admin)
    {
        using var response = await admin.GetAsync("/api/admin/export?format=ndjson");
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"export: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (response.Headers, await response.Content.ReadAsStringAsync());
    }

    /// <summary>What the outbox recorded of these addresses' mail (attempts, the last failure), and the failures of all mail.</summary>
    async Task<string> OutboxHistoryAsync(string[] emails)
    {
        await using var connection = await topology.Database.OpenConnectionAsync();
        return string.Join('\n', await connection.QueryAsync<string>("""
            SELECT concat_ws(' ', s.email, o.kind, 'attempts', o.attempts, 'sent', o.sent_at, 'error:', o.last_error)
            FROM outbox o JOIN subscriptions sub ON sub.id = o.subscription_id JOIN subscribers s ON s.id = sub.subscriber_id
            WHERE s.email = ANY (@emails)
            UNION ALL
            (SELECT concat_ws(' ', count(*), 'rows failed before with:', last_error) FROM outbox WHERE last_error IS NOT NULL GROUP BY last_error)
            """, new { emails }));
    }

    async Task<T> Scalar<T>(string sql, object? parameters = null)
    {
        await using var connection = await topology.Database.OpenConnectionAsync();
        return (await connection.ExecuteScalarAsync<T>(sql, parameters))!;
    }

    async Task<IEnumerable<T>> QueryAsync<T>(string sql)
    {
        await using var connection = await topology.Database.OpenConnectionAsync();
        return await connection.QueryAsync<T>(sql);
    }
}
