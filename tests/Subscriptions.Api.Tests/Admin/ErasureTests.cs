using System.Net;
using System.Net.Http.Json;
using Dapper;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Admin;

public class ErasureTests(ApiFixture fixture) : ApiTest(fixture)
{
    /// <summary>Every text-like column of every table, searched for any of the needles.</summary>
    async Task<List<string>> WhereFound(params string[] needles)
    {
        await using var connection = await Database.OpenConnectionAsync();
        var columns = await connection.QueryAsync<(string Table, string Column, string Type)>("""
            SELECT table_name, column_name, data_type FROM information_schema.columns
            WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'inet', 'jsonb', 'ARRAY', 'bytea')
            """);
        var found = new List<string>();
        foreach (var (table, column, type) in columns)
        {
            var asText = type == "bytea" ? $"encode(\"{column}\", 'escape')" : $"\"{column}\"::text";
            var hits = await connection.ExecuteScalarAsync<long>($"""
                SELECT count(*) FROM "{table}"
                WHERE EXISTS (SELECT 1 FROM unnest(@needles) AS n(needle) WHERE strpos(lower({asText}), lower(n.needle)) > 0)
                """, new { needles });
            if (hits > 0)
            {
                found.Add($"{table}.{column}");
            }
        }

        return found;
    }

    [Fact]
    public async Task Erasure_leaves_no_trace_of_the_address_in_any_table()
    {
        await Execute("INSERT INTO lists (slug, name, consent_text, consent_text_version) VALUES ('sport', 'Sport', 'ok', '1')");
        var response = await Client.PostAsJsonAsync("/api/subscriptions", new
        {
            email = "Erase.Me@Bücher.example", consent = true, name = "Erika Mustermann", lists = new[] { "news", "sport" },
            source = "https://news.example/erase.me",
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await Fixture.Mail.WaitForMessagesAsync(2);
        await Client.PostAsJsonAsync("/api/subscriptions", new { email = "keep@example.org", consent = true });
        string[] needles = ["erase.me", "xn--bcher-kva", "Erika", "Mustermann"];
        Assert.NotEmpty(await WhereFound(needles));

        using var admin = AdminClient();
        var erased = await admin.DeleteAsync("/api/admin/subscribers/ERASE.ME%40b%C3%BCcher.example");

        Assert.Equal(HttpStatusCode.NoContent, erased.StatusCode);
        Assert.Empty(await WhereFound(needles));
        Assert.Equal(2, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'erased'"));
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM erasures"));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM outbox o LEFT JOIN subscriptions s ON s.id = o.subscription_id WHERE s.id IS NULL"));
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM subscribers WHERE email = 'keep@example.org'"));
    }

    [Fact]
    public async Task Erasing_an_unknown_address_answers_the_same_and_records_nothing()
    {
        using var admin = AdminClient();

        var response = await admin.DeleteAsync("/api/admin/subscribers/nobody%40example.org");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM erasures"));
    }

    [Fact]
    public async Task Erasing_something_that_is_no_address_is_a_400()
    {
        using var admin = AdminClient();

        Assert.Equal(HttpStatusCode.BadRequest, (await admin.DeleteAsync("/api/admin/subscribers/not-an-address")).StatusCode);
    }
}
