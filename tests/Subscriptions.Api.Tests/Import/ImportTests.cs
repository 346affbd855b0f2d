using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Import;

public class ImportTests(ApiFixture fixture) : ApiTest(fixture)
{
    // Header names as the tools write them (Mailchimp's audience export; listmonk's subscribers export).
    const string MailchimpHeader =
        "Email Address,First Name,Last Name,Address,Phone Number,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,NOTES,TAGS";

    const string ListmonkHeader = "uuid,email,name,attributes,status,created_at,updated_at";

    public sealed record Report(
        string Format, string Profile, string List, bool DryRun, bool Complete, long Rows, long Created, long Updated, long Kept, long Invalid,
        Dictionary<string, long> Refused, long ConfirmationsQueued, List<ReportError> Errors);

    public sealed record ReportError(long Line, string? Field, string Reason, string Message);

    internal async Task<Report> Import(string body, string query = "", string mediaType = "text/csv")
    {
        using var admin = AdminClient();
        var response = await admin.PostAsync($"/api/admin/import{query}", new StringContent(body, Encoding.UTF8, mediaType));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<Report>(JsonSerializerOptions.Web))!;
    }

    sealed record Row(string Email, string Status, DateTime ConsentAt, string? ConsentIp, string? ConsentSource, DateTime? ConfirmedAt,
        string ConsentTextVersion, string? Name);

    async Task<List<Row>> Rows()
    {
        await using var connection = await Database.OpenConnectionAsync();
        return [.. await Dapper.SqlMapper.QueryAsync<Row>(connection, """
            SELECT s.email AS Email, sub.status AS Status, sub.consent_at AS ConsentAt, host(sub.consent_ip) AS ConsentIp,
                   sub.consent_source AS ConsentSource, sub.confirmed_at AS ConfirmedAt, sub.consent_text_version AS ConsentTextVersion, s.name AS Name
            FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id ORDER BY s.email
            """)];
    }

    [Fact]
    public async Task A_mailchimp_audience_export_imports_with_its_consent_evidence()
    {
        var file = $"""
            {MailchimpHeader}
            anna@example.org,Anna,Berg,,,2,2023-04-01 09:00:00,198.51.100.7,2023-04-01 09:05:00,198.51.100.7,,,,,,,,2023-04-01 09:05:00,1,abc,,
            "bert@example.org","Bert","",,,2,,,2023-05-02 10:00:00,203.0.113.9,,,,,,,,2023-05-02 10:00:00,2,def,,"tag, other"
            carl@example.org,Carl,,,,2,2023-06-01 08:00:00,,,,,,,,,,,2023-06-01 08:00:00,3,ghi,,
            """;

        var report = await Import(file, "?sendConfirmations=false");

        Assert.Equal("mailchimp", report.Profile);
        Assert.Equal((3, 3, 0L), (report.Rows, report.Created, report.Invalid));
        var rows = await Rows();
        var anna = rows.Single(r => r.Email == "anna@example.org");
        Assert.Equal(("confirmed", "198.51.100.7", "Anna Berg"), (anna.Status, anna.ConsentIp, anna.Name));
        Assert.Equal(new DateTime(2023, 4, 1, 9, 0, 0, DateTimeKind.Utc), anna.ConsentAt.ToUniversalTime());
        Assert.Equal(new DateTime(2023, 4, 1, 9, 5, 0, DateTimeKind.Utc), anna.ConfirmedAt?.ToUniversalTime());
        // only the confirmation's time and IP: still evidence
        Assert.Equal(("confirmed", "203.0.113.9"), (rows.Single(r => r.Email == "bert@example.org").Status, rows.Single(r => r.Email == "bert@example.org").ConsentIp));
        // a time without an IP address or a source is no evidence
        Assert.Equal("pending", rows.Single(r => r.Email == "carl@example.org").Status);
        Assert.Equal(3, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'imported'"));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM outbox"));
        Fixture.App.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Mailchimp_unsubscribed_and_cleaned_exports_subscribe_nobody()
    {
        var file = """
            Email Address,First Name,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_REASON,CLEAN_TIME,LEID
            gone@example.org,Gone,2023-01-01 00:00:00,198.51.100.1,2023-01-01 00:01:00,198.51.100.1,2024-01-01 00:00:00,Spring,No longer interested,,1
            bounced@example.org,Bounced,2023-01-01 00:00:00,198.51.100.2,2023-01-01 00:01:00,198.51.100.2,,,,2024-02-01 00:00:00,2
            """;

        var report = await Import(file);

        Assert.Equal(1, report.Created);
        Assert.Equal(1, report.Refused["cleaned"]);
        Assert.Equal("unsubscribed", Assert.Single(await Rows()).Status);
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM outbox"));
    }

    [Fact]
    public async Task A_listmonk_export_imports_as_pending_with_a_confirmation_mail_and_blocklisted_stays_unsubscribed()
    {
        var file = $$"""
            {{ListmonkHeader}}
            5e7c6e3a-1111-4b7a-9a53-000000000001,lena@example.org,Lena,"{""city"": ""Bonn""}",enabled,2022-03-04 05:06:07.123456+00,2022-03-04 05:06:07.123456+00
            5e7c6e3a-1111-4b7a-9a53-000000000002,blocked@example.org,Blocked,{},blocklisted,2022-03-04 05:06:07+00,2022-03-05 05:06:07+00
            """;

        var report = await Import(file);

        Assert.Equal(("listmonk", 2L, 1L), (report.Profile, report.Created, report.ConfirmationsQueued));
        var rows = await Rows();
        Assert.Equal("pending", rows.Single(r => r.Email == "lena@example.org").Status);
        Assert.Equal(new DateTime(2022, 3, 4, 5, 6, 7, 123, 456, DateTimeKind.Utc), rows.Single(r => r.Email == "lena@example.org").ConsentAt.ToUniversalTime());
        Assert.Equal("unsubscribed", rows.Single(r => r.Email == "blocked@example.org").Status);
        var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync("lena@example.org"));
        Assert.Contains("/confirm/", mail.TextBody, StringComparison.Ordinal);
        Assert.DoesNotContain(await Fixture.Mail.RecipientsAsync(), r => r.Contains("blocked", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_services_own_export_imports_as_csv_and_as_ndjson()
    {
        await Execute("INSERT INTO lists (slug, name, consent_text, consent_text_version) VALUES ('sport', 'Sport', 'ok', '1')");
        var csv = """
            email,name,list,status,signed_up_at,confirmed_at,unsubscribed_at,consent_at,consent_ip,consent_user_agent,consent_source,consent_text_version,consent_text_language,locale,unsubscribe_url,suppressed,suppressed_reason,manage_url,utm_source
            Ada@Example.org,'=Ada,news,confirmed,2024-01-01T10:00:00.000000Z,2024-01-01T10:05:00.123456Z,,2024-01-01T10:00:00.654321Z,192.0.2.1,Mozilla/5.0,https://news.example/a,3,de,de-CH,http://old.example/unsubscribe/x,false,,http://old.example/manage/y,newsletter
            """;
        var ndjson = """
            {"email":"Ben@Example.org","name":null,"list":"news","status":"confirmed","signed_up_at":"2024-01-01T10:00:00.000000Z","confirmed_at":"2024-01-02T10:00:00.000000Z","unsubscribed_at":null,"consent_at":"2024-01-01T10:00:00.000000Z","consent_ip":null,"consent_user_agent":null,"consent_source":"https://news.example/b","consent_text_version":"2","consent_text_language":null,"locale":null,"unsubscribe_url":"http://old.example/u","suppressed":false,"suppressed_reason":null}

            {"email":"cleo@example.org","status":"pending","consent_at":"2024-01-01T10:00:00.000000Z","consent_ip":"192.0.2.3","consent_text_version":"2","suppressed":false}
            """;

        var fromCsv = await Import(csv, "?list=sport&sendConfirmations=false");
        var fromNdjson = await Import(ndjson, "?format=ndjson&sendConfirmations=false", "application/x-ndjson");

        Assert.Equal(("subscriptions", 1L), (fromCsv.Profile, fromCsv.Created));
        Assert.Equal(("ndjson", 2L, 0L), (fromNdjson.Format, fromNdjson.Created, fromNdjson.Invalid));
        var rows = await Rows();
        var ada = rows.Single(r => r.Email == "ada@example.org");
        Assert.Equal(("confirmed", "192.0.2.1", "https://news.example/a", "3", "=Ada"), (ada.Status, ada.ConsentIp, ada.ConsentSource, ada.ConsentTextVersion, ada.Name));
        Assert.Equal(new DateTime(2024, 1, 1, 10, 0, 0, 654, 321, DateTimeKind.Utc), ada.ConsentAt.ToUniversalTime());
        Assert.Equal("sport", await Scalar<string>("SELECT l.slug FROM subscriptions sub JOIN lists l ON l.id = sub.list_id JOIN subscribers s ON s.id = sub.subscriber_id WHERE s.email = 'ada@example.org'"));
        Assert.Equal("confirmed", rows.Single(r => r.Email == "ben@example.org").Status);
        // pending in the old tool stays pending here, evidence or not: nobody confirmed it
        Assert.Equal("pending", rows.Single(r => r.Email == "cleo@example.org").Status);
    }

    [Fact]
    public async Task A_dry_run_reports_what_would_happen_and_writes_nothing()
    {
        var file = "email,consent_at,consent_ip,status\nnew@example.org,2024-01-01T00:00:00Z,192.0.2.1,confirmed\nbad-address,,,\n";

        var dry = await Import(file, "?dryRun=true");

        Assert.Equal((true, 1L, 1L), (dry.DryRun, dry.Created, dry.Invalid));
        foreach (var table in new[] { "subscribers", "subscriptions", "subscription_events", "outbox" })
        {
            Assert.Equal(0, await Scalar<long>($"SELECT count(*) FROM {table}"));
        }

        var real = await Import(file);
        Assert.Equal((dry.Created, dry.Invalid), (real.Created, real.Invalid));
    }

    [Fact]
    public async Task Running_the_same_file_again_changes_nothing()
    {
        var file = """
            email,status,consent_at,consent_ip,confirmed_at,unsubscribed_at
            one@example.org,confirmed,2024-01-01T00:00:00Z,192.0.2.1,2024-01-01T00:01:00Z,
            two@example.org,pending,2024-01-01T00:00:00Z,,,
            three@example.org,unsubscribed,2024-01-01T00:00:00Z,192.0.2.3,,2024-02-01T00:00:00Z
            """;
        var first = await Import(file);
        var before = await Snapshot();

        var second = await Import(file);

        Assert.Equal((3L, 1L), (first.Created, first.ConfirmationsQueued));
        Assert.Equal((0L, 0L, 2L, 0L), (second.Created, second.Updated, second.Kept, second.ConfirmationsQueued));
        Assert.Equal(1, second.Refused["unsubscribed"]);
        Assert.Equal(before, await Snapshot());
    }

    async Task<string> Snapshot() => await Scalar<string>("""
        SELECT concat_ws('|',
            (SELECT string_agg(concat_ws(',', email, email_as_typed, name, locale, created_at, updated_at), ';' ORDER BY id) FROM subscribers),
            (SELECT string_agg(concat_ws(',', id, status, created_at, updated_at, confirmed_at, unsubscribed_at, consent_at, consent_ip, consent_source), ';' ORDER BY id) FROM subscriptions),
            (SELECT count(*) FROM subscription_events WHERE type = 'imported'),
            (SELECT count(*) FROM outbox WHERE kind <> 'webhook'))
        """);

    [Fact]
    public async Task Unsubscribed_suppressed_and_erased_addresses_are_refused_and_reported()
    {
        await Client.PostAsJsonAsync("/api/subscriptions", new { email = "left@example.org", consent = true });
        await Execute("UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = now()");
        using var admin = AdminClient();
        Assert.True((await admin.PostAsJsonAsync("/api/admin/suppressions", new { email = "bounced@example.org", reason = "hard_bounce" })).IsSuccessStatusCode);
        await Client.PostAsJsonAsync("/api/subscriptions", new { email = "erased@example.org", consent = true });
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/admin/subscribers/erased%40example.org")).StatusCode);
        var before = await Scalar<long>("SELECT count(*) FROM subscriptions");

        var report = await Import("""
            email,status,consent_at,consent_ip,confirmed_at
            LEFT@example.org,confirmed,2024-01-01T00:00:00Z,192.0.2.1,2024-01-01T00:01:00Z
            bounced@example.org,confirmed,2024-01-01T00:00:00Z,192.0.2.1,2024-01-01T00:01:00Z
            Erased@Example.org,confirmed,2024-01-01T00:00:00Z,192.0.2.1,2024-01-01T00:01:00Z
            """);

        Assert.Equal(0, report.Created + report.Updated + report.Kept);
        Assert.Equal(new Dictionary<string, long> { ["erased"] = 1, ["suppressed"] = 1, ["unsubscribed"] = 1 }, report.Refused);
        Assert.Equal(before, await Scalar<long>("SELECT count(*) FROM subscriptions"));
        Assert.Equal("unsubscribed", await Scalar<string>("SELECT status FROM subscriptions"));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscribers WHERE email IN ('bounced@example.org', 'erased@example.org')"));
    }

    [Fact]
    public async Task A_confirmed_address_keeps_its_own_evidence_and_a_pending_one_takes_the_files_confirmation()
    {
        await Client.PostAsJsonAsync("/api/subscriptions", new { email = "kept@example.org", consent = true, source = "https://ours.example/form" });
        await Client.PostAsJsonAsync("/api/subscriptions", new { email = "waiting@example.org", consent = true });
        await Execute("UPDATE subscriptions SET status = 'confirmed', confirmed_at = now() WHERE subscriber_id = (SELECT id FROM subscribers WHERE email = 'kept@example.org')");

        var report = await Import("""
            email,status,consent_at,consent_ip,consent_source,confirmed_at
            kept@example.org,confirmed,2020-01-01T00:00:00Z,192.0.2.9,https://old.example/form,2020-01-01T00:01:00Z
            waiting@example.org,confirmed,2020-01-01T00:00:00Z,192.0.2.8,,2020-01-01T00:01:00Z
            """);

        Assert.Equal((1L, 1L), (report.Kept, report.Updated));
        var rows = await Rows();
        Assert.Equal(("confirmed", "https://ours.example/form", "127.0.0.1"), (rows[0].Status, rows[0].ConsentSource, rows[0].ConsentIp));
        Assert.Equal(("confirmed", "192.0.2.8"), (rows[1].Status, rows[1].ConsentIp));
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'imported'"));
        Assert.Equal("192.0.2.8", await Scalar<string>("SELECT host(ip) FROM subscription_events WHERE type = 'imported'"));
    }

    [Fact]
    public async Task Bad_rows_are_reported_by_line_and_reason_while_good_rows_go_in()
    {
        var file = string.Join('\n',
            "email,name,locale,consent_source,consent_ip,consent_at,status",
            "good@example.org,Good,,,,,",
            "not an address,,,,,,",
            ",,,,,,",
            "name@example.org," + new string('n', 201) + ",,,,,",
            "locale@example.org,,no_such_locale!,,,,",
            "source@example.org,,,javascript:alert(1),,,",
            "ip@example.org,,,,999.1.1.1,,",
            "time@example.org,,,,,yesterday,",
            "status@example.org,,,,,,maybe",
            "\"quoted\nline@example.org\",,,,,,",
            "good2@example.org,,,,,,");

        var report = await Import(file, "?sendConfirmations=false");

        Assert.Equal((11L, 2L, 9L), (report.Rows, report.Created, report.Invalid));
        Assert.Equal(
            [(3L, "email_invalid"), (4, "email_missing"), (5, "name_invalid"), (6, "locale_invalid"), (7, "source_invalid"), (8, "ip_invalid"),
             (9, "time_invalid"), (10, "status_unknown"), (11, "email_invalid")],
            report.Errors.Select(e => (e.Line, e.Reason)));
        Assert.Equal(["good2@example.org", "good@example.org"], (await Rows()).Select(r => r.Email));
    }

    [Fact]
    public async Task Pending_rows_get_a_confirmation_within_the_signups_caps()
    {
        await Client.PostAsJsonAsync("/api/subscriptions", new { email = "recent@example.org", consent = true });
        await Execute("INSERT INTO lists (slug, name, consent_text, consent_text_version) VALUES ('sport', 'Sport', 'ok', '1')");

        var report = await Import("email,locale\nrecent@example.org,\nfresh@example.org,de\n", "?list=sport");

        // recent@ had a confirmation mail minutes ago (the resend interval): none now
        Assert.Equal((2L, 1L), (report.Created, report.ConfirmationsQueued));
        Assert.Single(await Fixture.Mail.WaitForMailToAsync("fresh@example.org"));
        Assert.Equal("de", await Scalar<string>("""
            SELECT o.locale FROM outbox o JOIN subscriptions sub ON sub.id = o.subscription_id JOIN subscribers s ON s.id = sub.subscriber_id
            WHERE s.email = 'fresh@example.org'
            """));
    }

    [Fact]
    public async Task A_signup_storing_an_address_of_the_file_while_its_chunk_is_written_is_no_error()
    {
        // Another transaction stores an address of the file and commits only once the import waits for it
        // (the unique index): the import's insert then fails, and its part of the chunk is decided again,
        // where that address is no longer new.
        await using var racer = await Database.OpenConnectionAsync();
        await using var transaction = await racer.BeginTransactionAsync();
        var racerId = await Dapper.SqlMapper.ExecuteScalarAsync<long>(racer, """
            INSERT INTO subscribers (email, email_as_typed, created_at, updated_at)
            VALUES ('racer@example.org', 'racer@example.org', now(), now()) RETURNING id
            """, transaction: transaction);

        var import = Import("""
            email,status,consent_at,consent_ip
            first@example.org,confirmed,2024-01-01 10:00:00,198.51.100.1
            racer@example.org,confirmed,2024-01-01 10:00:00,198.51.100.2
            """, "?sendConfirmations=false");
        await Eventually.TrueAsync(async () => await Scalar<long>("""
            SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO subscribers%'
            """) == 1, TimeSpan.FromSeconds(20), "the import waiting for the racing transaction");
        await transaction.CommitAsync();
        var report = await import;

        Assert.Equal((2L, 2L, 0L, 0L), (report.Rows, report.Created, report.Kept, report.Invalid));
        Assert.Equal(racerId, await Scalar<long>("""
            SELECT sub.subscriber_id FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id WHERE s.email = 'racer@example.org'
            """));
        Assert.Equal(["confirmed", "confirmed"], (await Rows()).Select(r => r.Status));
        Assert.Equal(2, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'imported'"));
        Assert.Contains(Fixture.App.Logs.GetSnapshot(), r => r.Message.Contains("deciding it again", StringComparison.Ordinal));
        Fixture.App.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Progress_is_logged_without_addresses()
    {
        await Import("email\nprivate-person@example.org\n", "?sendConfirmations=false");

        var records = Fixture.App.Logs.GetSnapshot().Where(r => r.Category?.Contains("Import", StringComparison.Ordinal) == true).ToList();
        Assert.Contains(records, r => r.Level == LogLevel.Information && r.Message.Contains("rows/s", StringComparison.Ordinal));
        Assert.DoesNotContain(Fixture.App.Logs.GetSnapshot(), r => r.Message.Contains("private-person", StringComparison.Ordinal));
    }
}
