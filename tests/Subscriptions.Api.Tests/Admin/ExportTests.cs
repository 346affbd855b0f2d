using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CsvHelper;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Admin;

public class ExportTests(ApiFixture fixture) : ApiTest(fixture)
{
    static readonly string[] Columns =
    [
        "email", "name", "list", "status", "signed_up_at", "confirmed_at", "unsubscribed_at", "consent_at", "consent_ip",
        "consent_user_agent", "consent_source", "consent_text_version", "consent_text_language", "utm_source", "utm_medium", "utm_campaign", "locale", "unsubscribe_url",
        "suppressed", "suppressed_reason", "manage_url",
    ];

    async Task SignUp(string email, string? name = null, string[]? lists = null, string? source = null)
    {
        var response = await Client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true, name, lists, source, locale = "en-GB" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    async Task<List<Dictionary<string, string?>>> ExportCsv(string query = "")
    {
        using var admin = AdminClient();
        var response = await admin.GetAsync($"/api/admin/export?format=csv{query}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Matches(@"^""?subscribers-\d{4}-\d{2}-\d{2}\.csv""?$", response.Content.Headers.ContentDisposition?.FileName);

        var rows = new List<Dictionary<string, string?>>();
        await using var csv = CsvReader.Create(await response.Content.ReadAsStreamAsync());
        csv.ReadHeader();
        while (csv.Read())
        {
            rows.Add(Columns.ToDictionary(c => c, csv.GetStringOrNull));
        }

        return rows;
    }

    async Task<List<JsonElement>> ExportNdjson(string query = "")
    {
        using var admin = AdminClient();
        var response = await admin.GetAsync($"/api/admin/export?format=ndjson{query}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonSerializer.Deserialize<JsonElement>(line))];
    }

    [Fact]
    public async Task Csv_and_ndjson_carry_every_column_with_the_consent_evidence()
    {
        await SignUp("Reader@Example.org", "Reader", source: "https://news.example/article");

        var csv = Assert.Single(await ExportCsv());
        var json = Assert.Single(await ExportNdjson());

        Assert.Equal("Reader@Example.org", csv["email"]);
        Assert.Equal("pending", csv["status"]);
        Assert.Equal("127.0.0.1", csv["consent_ip"]);
        Assert.Equal("https://news.example/article", csv["consent_source"]);
        Assert.Equal("1", csv["consent_text_version"]);
        Assert.Equal("en", csv["consent_text_language"]);
        Assert.Equal("en-GB", csv["locale"]);
        Assert.Equal("", csv["confirmed_at"]);
        Assert.True(DateTimeOffset.TryParse(csv["consent_at"], out _));
        Assert.StartsWith(Fixture.App.BaseAddress + "unsubscribe/", csv["unsubscribe_url"]);
        Assert.Equal("false", csv["suppressed"]);
        Assert.Equal("", csv["suppressed_reason"]);
        foreach (var column in Columns)
        {
            // CSV writes null as an empty cell; NDJSON keeps it null, and suppressed is a JSON boolean
            var value = json.GetProperty(column);
            Assert.Equal(csv[column], value.ValueKind is System.Text.Json.JsonValueKind.False or System.Text.Json.JsonValueKind.True
                ? (value.GetBoolean() ? "true" : "false") : value.GetString() ?? "");
        }
    }

    [Fact]
    public async Task Filters_select_by_list_status_and_time_in_both_formats()
    {
        await Execute("INSERT INTO lists (slug, name, consent_text, consent_text_version) VALUES ('sport', 'Sport', 'ok', '1')");
        await SignUp("a@example.org");
        await SignUp("b@example.org", lists: ["sport"]);
        await SignUp("c@example.org", lists: ["news", "sport"]);
        await Execute("""
            UPDATE subscriptions SET status = 'confirmed', confirmed_at = now(), updated_at = now() - interval '2 days'
            WHERE subscriber_id = (SELECT id FROM subscribers WHERE email = 'c@example.org')
            """);
        var since = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(-1).ToString("O"));

        Assert.Equal(["a@example.org", "c@example.org"], (await ExportCsv("&list=news")).Select(r => r["email"]));
        Assert.Equal(["b@example.org", "c@example.org"], (await ExportNdjson("&list=sport")).Select(r => r.GetProperty("email").GetString()));
        Assert.Equal(["c@example.org", "c@example.org"], (await ExportCsv("&status=confirmed")).Select(r => r["email"]));
        Assert.Equal(["sport"], (await ExportNdjson("&status=pending&list=sport")).Select(r => r.GetProperty("list").GetString()));
        Assert.Equal(["a@example.org", "b@example.org"], (await ExportCsv($"&since={since}")).Select(r => r["email"]));
        Assert.Equal(4, (await ExportNdjson()).Count);
    }

    [Fact]
    public async Task Bad_filters_get_a_problem()
    {
        using var admin = AdminClient();

        foreach (var query in new[] { "format=xml", "status=maybe", "since=yesterday" })
        {
            var response = await admin.GetAsync($"/api/admin/export?{query}");
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }
    }

    [Theory]
    [InlineData("=HYPERLINK(\"http://evil.example\",\"click\")")]
    [InlineData("+1+1")]
    [InlineData("-2+3")]
    [InlineData("@SUM(A1:A2)")]
    public async Task Cells_that_a_spreadsheet_would_run_as_formulas_are_neutralized(string name)
    {
        await SignUp("formula@example.org", name);

        var row = Assert.Single(await ExportCsv());

        Assert.Equal("'" + name, row["name"]);
    }

    [Fact]
    public async Task Each_row_carries_a_working_unsubscribe_url()
    {
        await SignUp("leaving@example.org");
        var url = new Uri(Assert.Single(await ExportCsv())["unsubscribe_url"]!);

        var response = await Client.PostAsync(url, new FormUrlEncodedContent([KeyValuePair.Create("List-Unsubscribe", "One-Click")]));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("unsubscribed", Assert.Single(await ExportCsv())["status"]);
    }

    [Theory]
    [InlineData("news%00")]
    [InlineData("NEWS")]
    [InlineData("%27%20OR%201%3D1")]
    public async Task A_list_filter_that_cannot_be_a_slug_is_400(string list)
    {
        using var admin = AdminClient();

        var response = await admin.GetAsync($"/api/admin/export?list={list}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
    [Fact]
    public async Task Hostile_text_in_every_kind_of_column_comes_out_whole_in_both_formats_and_neutralized_in_CSV()
    {
        // quotes, separators, line breaks, formula signs and non-BMP characters, put in by SQL so that
        // no signup rule filters them first
        string[] values =
        [
            "=1+2", "+cmd", "-2", "@SUM(A1)", "\tTab", "\rCR", "a,b", "say \"hi\"", "line\nbreak", "cr\r\nlf", "😀 𝄞 é", "\"=q\"", " =x",
        ];
        for (var i = 0; i < values.Length; i++)
        {
            await SignUp($"hostile{i}@example.org");
        }

        await Execute("""
            UPDATE subscribers s SET name = v.value FROM unnest(@values) WITH ORDINALITY AS v(value, n)
            WHERE s.email = 'hostile' || (v.n - 1) || '@example.org';
            UPDATE subscriptions sub SET consent_user_agent = s.name, utm_campaign = s.name, consent_source = s.name
            FROM subscribers s WHERE s.id = sub.subscriber_id;
            """, new { values });

        var csv = await ExportCsv();
        var json = await ExportNdjson();

        Assert.Equal(values.Length, csv.Count);
        for (var i = 0; i < values.Length; i++)
        {
            var neutralized = values[i][0] is '=' or '+' or '-' or '@' or '\t' or '\r' ? "'" + values[i] : values[i];
            foreach (var column in new[] { "name", "consent_user_agent", "consent_source", "utm_campaign" })
            {
                Assert.Equal(neutralized, csv[i][column]);
                Assert.Equal(values[i], json[i].GetProperty(column).GetString());
            }
        }
    }

    [Fact]
    public async Task Each_row_carries_a_working_manage_url()
    {
        await SignUp("managing@example.org");
        await Execute("UPDATE subscriptions SET status = 'confirmed', confirmed_at = now()");
        var row = Assert.Single(await ExportNdjson());
        var url = new Uri(row.GetProperty("manage_url").GetString()!);

        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync(url.PathAndQuery)).StatusCode);
        // the row's other token, made for another purpose, opens no preference centre
        var unsubscribeToken = new Uri(row.GetProperty("unsubscribe_url").GetString()!).Segments[^1];
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/manage/" + unsubscribeToken)).StatusCode);
    }

    [Fact]
    public async Task A_since_filter_with_an_offset_is_taken_in_UTC()
    {
        await SignUp("early@example.org");
        await Execute("UPDATE subscriptions SET updated_at = '2026-01-01T10:00:00Z'");

        // 11:30 at +02:00 is 09:30 UTC, before the change; 13:00 at +02:00 is 11:00 UTC, after it
        Assert.Single(await ExportCsv("&since=" + Uri.EscapeDataString("2026-01-01T11:30:00+02:00")));
        Assert.Empty(await ExportNdjson("&since=" + Uri.EscapeDataString("2026-01-01T13:00:00+02:00")));
    }
}
