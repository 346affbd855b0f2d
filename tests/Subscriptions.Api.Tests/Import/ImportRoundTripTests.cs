using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Npgsql;
using Subscriptions.Api.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Subscriptions.Api.Tests.Import;

/// <summary>
/// The export read back in: 100,000 subscribers of mixed statuses exported as CSV, then, in the
/// service's database, a few erased and a few unsubscribed. The export imported into a fresh
/// database gives the exported rows back row for row (status, consent evidence, times to the
/// microsecond); imported into the same database it changes nothing, so nothing erased or
/// unsubscribed since comes back.
/// </summary>
public class ImportRoundTripTests(ApiFixture fixture, ITestOutputHelper output) : ApiTest(fixture)
{
    const int Subscribers = 100_000;

    // Every field a row carries, in PostgreSQL's row syntax (which tells NULL from empty text).
    const string RowsSql = """
        SELECT row(s.email, s.email_as_typed, s.name, s.locale, l.slug, sub.status, sub.created_at, sub.confirmed_at, sub.unsubscribed_at,
                   sub.consent_at, sub.consent_ip, sub.consent_user_agent, sub.consent_source, sub.consent_text_version,
                   sub.consent_text_language)::text
        FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id JOIN lists l ON l.id = sub.list_id
        ORDER BY s.email
        """;

    const string Seed = """
        INSERT INTO subscribers (email, email_as_typed, name, locale, created_at, updated_at)
        SELECT 'rt' || i || '@example.org', 'RT' || i || '@Example.org',
               CASE WHEN i % 7 = 0 THEN NULL WHEN i % 1000 = 1 THEN '=Formula ' || i ELSE 'Reader, "number" ' || i END,
               CASE WHEN i % 3 = 0 THEN 'de-CH' END, now(), now()
        FROM generate_series(1, @count) AS i;

        INSERT INTO subscriptions (subscriber_id, list_id, status, created_at, updated_at, confirmed_at, unsubscribed_at,
            consent_at, consent_ip, consent_user_agent, consent_source, consent_text_version, consent_text_language)
        SELECT s.id, 1, t.status, t.at, t.at, CASE WHEN t.status = 'confirmed' OR s.id % 10 = 8 THEN t.at + interval '5 minutes 7 microseconds' END,
               CASE WHEN t.status = 'unsubscribed' THEN t.at + interval '30 days' END,
               t.at + interval '123457 microseconds',
               CASE WHEN s.id % 4 <> 0 THEN format('10.%s.%s.%s', s.id / 65536 % 256, s.id / 256 % 256, s.id % 256)::inet
                    WHEN s.id % 8 = 4 THEN ('2001:db8::' || to_hex(s.id % 65536))::inet END,
               CASE WHEN s.id % 2 = 0 THEN 'Mozilla/5.0 (reader ' || s.id || ')' END,
               CASE WHEN s.id % 4 = 0 OR s.id % 5 = 0 THEN 'https://news.example/p/' || s.id END,
               (s.id % 2 + 1)::text, CASE WHEN s.id % 3 = 0 THEN 'de' END
        FROM subscribers s
        CROSS JOIN LATERAL (SELECT CASE WHEN s.id % 10 < 6 THEN 'confirmed' WHEN s.id % 10 < 8 THEN 'pending' ELSE 'unsubscribed' END AS status,
                                   timestamptz '2024-01-01 00:00:00+00' + s.id * interval '1 minute 1 microsecond' AS at) t;
        ANALYZE subscribers, subscriptions;
        """;

    static async Task<List<string>> RowsOf(NpgsqlDataSource database)
    {
        await using var connection = await database.OpenConnectionAsync();
        return [.. await connection.QueryAsync<string>(RowsSql)];
    }

    async Task<ImportTests.Report> ImportFile(HttpClient admin, string path)
    {
        await using var file = File.OpenRead(path);
        using var content = new StreamContent(file);
        content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        var started = DateTime.UtcNow;
        var response = await admin.PostAsync("/api/admin/import?sendConfirmations=false", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = (await response.Content.ReadFromJsonAsync<ImportTests.Report>(JsonSerializerOptions.Web))!;
        output.WriteLine($"imported {report.Rows} rows in {(DateTime.UtcNow - started).TotalSeconds:F1} s: created {report.Created}, kept {report.Kept}, " +
                         $"refused {string.Join(", ", report.Refused.Select(r => $"{r.Key} {r.Value}"))}");
        return report;
    }

    [Fact]
    public async Task An_export_imported_into_a_fresh_database_and_into_the_same_one_matches_row_for_row_and_brings_back_nothing_removed()
    {
        await Execute(Seed, new { count = Subscribers });
        var exported = await RowsOf(Database);
        var path = Path.GetTempFileName();
        try
        {
            using var admin = AdminClient();
            await using (var file = File.Create(path))
            {
                var response = await admin.GetAsync("/api/admin/export?format=csv", HttpCompletionOption.ResponseHeadersRead);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                await (await response.Content.ReadAsStreamAsync()).CopyToAsync(file);
            }

            // after the export: five people erased, seven subscriptions ended
            string[] erased = ["rt11@example.org", "rt12@example.org", "rt17@example.org", "rt18@example.org", "rt19@example.org"];
            foreach (var email in erased)
            {
                Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/subscribers/{Uri.EscapeDataString(email)}")).StatusCode);
            }

            await Execute("""
                UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = now(), updated_at = now()
                WHERE subscriber_id IN (SELECT id FROM subscribers WHERE email IN
                    ('rt21@example.org', 'rt22@example.org', 'rt23@example.org', 'rt31@example.org', 'rt41@example.org', 'rt26@example.org', 'rt27@example.org'))
                """);
            var unsubscribed = await Scalar<long>("SELECT count(*) FROM subscriptions WHERE status = 'unsubscribed'");
            var before = await RowsOf(Database);

            // into a fresh database: what was exported, row for row
            var fresh = await Fixture.Postgres.CreateDatabaseAsync();
            try
            {
                await using (var app = new SubscriptionsApp(fresh, Fixture.AppSettings()))
                await using (var freshDatabase = NpgsqlDataSource.Create(fresh))
                {
                    using var freshAdmin = app.CreateHttpClient();
                    freshAdmin.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);
                    var report = await ImportFile(freshAdmin, path);

                    Assert.Equal((Subscribers, Subscribers, 0L, 0L), (report.Rows, report.Created, report.Invalid, report.ConfirmationsQueued));
                    AssertSameRows(exported, await RowsOf(freshDatabase));
                    app.AssertNoErrorsLogged();
                }
            }
            finally
            {
                await Fixture.Postgres.DropDatabaseAsync(fresh);
            }

            // into the same database: nothing changes, nothing erased or unsubscribed comes back
            var again = await ImportFile(admin, path);

            Assert.Equal((0L, 0L), (again.Created, again.Updated));
            Assert.Equal(erased.Length, again.Refused["erased"]);
            Assert.Equal(unsubscribed, again.Refused["unsubscribed"]);
            Assert.Equal(Subscribers - erased.Length - unsubscribed, again.Kept);
            AssertSameRows(before, await RowsOf(Database));
            Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscribers WHERE email = ANY(@erased)", new { erased }));
            Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'imported'"));
            Fixture.App.AssertNoErrorsLogged();
        }
        finally
        {
            File.Delete(path);
        }
    }

    static void AssertSameRows(List<string> expected, List<string> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        var first = Enumerable.Range(0, expected.Count).FirstOrDefault(i => expected[i] != actual[i], -1);
        Assert.True(first < 0, first < 0 ? "" : $"row {first}: expected {expected[first]}, got {actual[first]}");
    }
}
