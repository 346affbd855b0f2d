using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Import;

/// <summary>Files and requests no honest editor sends: never a 5xx, always a clear answer, and nothing stored from a bad row.</summary>
public class ImportHostileInputTests(ApiFixture fixture) : ApiTest(fixture)
{
    static readonly string[] Tables = ["subscribers", "subscriptions", "subscription_events", "outbox"];

    async Task<HttpResponseMessage> Post(HttpContent content, string query = "", string? key = ApiFixture.AdminKey)
    {
        var client = Fixture.App.CreateHttpClient();
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        }

        return await client.PostAsync($"/api/admin/import{query}", content);
    }

    static ByteArrayContent Bytes(byte[] body, string mediaType = "text/csv")
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(mediaType);
        return content;
    }

    async Task AssertNothingStored()
    {
        foreach (var table in Tables)
        {
            Assert.Equal(0, await Scalar<long>($"SELECT count(*) FROM {table}"));
        }
    }

    static async Task AssertProblem(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal((int)status, problem.RootElement.GetProperty("status").GetInt32());
    }

    const string ValidFile = "email,consent_at,consent_ip\nreal@example.org,2024-01-01T00:00:00Z,192.0.2.1\n";

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-key-wrong-key-wrong-key")]
    [InlineData(ApiFixture.AdminKey + "x")]
    public async Task Without_the_admin_key_nothing_is_imported(string? key)
    {
        var response = await Post(new StringContent(ValidFile, Encoding.UTF8, "text/csv"), key: key);

        await AssertProblem(response, HttpStatusCode.Unauthorized);
        await AssertNothingStored();
    }

    [Theory]
    [InlineData("?format=xml")]
    [InlineData("?format=")]
    [InlineData("?list=NEWS")]
    [InlineData("?list=no-such-list")]
    [InlineData("?list=%27%20OR%201%3D1")]
    [InlineData("?dryRun=maybe")]
    [InlineData("?sendConfirmations=2")]
    public async Task Bad_parameters_are_a_400_problem(string query)
    {
        var response = await Post(new StringContent(ValidFile, Encoding.UTF8, "text/csv"), query);

        await AssertProblem(response, HttpStatusCode.BadRequest);
        await AssertNothingStored();
    }

    [Fact]
    public async Task A_file_in_another_declared_charset_is_a_415()
    {
        var response = await Post(Bytes(Encoding.Latin1.GetBytes("email,name\nzoe@example.org,Zoë\n"), "text/csv; charset=iso-8859-1"));

        await AssertProblem(response, HttpStatusCode.UnsupportedMediaType);
        await AssertNothingStored();
    }

    [Theory]
    [InlineData("application/octet-stream")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/zip")]
    public async Task A_body_that_is_no_csv_or_ndjson_is_a_415(string mediaType)
    {
        var response = await Post(Bytes(System.Text.Encoding.UTF8.GetBytes(ValidFile), mediaType));

        await AssertProblem(response, HttpStatusCode.UnsupportedMediaType);
        await AssertNothingStored();
    }

    [Fact]
    public async Task Rows_that_are_not_utf8_are_refused_by_line_and_the_rest_go_in()
    {
        var body = Encoding.UTF8.GetBytes("email,name\nok@example.org,Ok\n").Concat(Encoding.Latin1.GetBytes("zoe@example.org,Zoë\n")).ToArray();

        var response = await Post(Bytes(body), "?sendConfirmations=false");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = await response.Content.ReadFromJsonAsync<ImportTests.Report>(JsonSerializerOptions.Web);
        Assert.Equal((1L, 1L), (report!.Created, report.Invalid));
        Assert.Equal((3L, "not_utf8"), (report.Errors[0].Line, report.Errors[0].Reason));
        Assert.Equal("ok@example.org", await Scalar<string>("SELECT email FROM subscribers"));
    }

    public static TheoryData<string, byte[], string> UnimportableFiles() => new()
    {
        { "empty", [], "text/csv" },
        { "binary garbage", [.. Enumerable.Range(0, 64 * 1024).Select(i => (byte)(i * 7919 % 251))], "text/csv" },
        { "binary garbage as NDJSON", [.. Enumerable.Range(0, 64 * 1024).Select(i => (byte)(i * 7919 % 251))], "application/x-ndjson" },
        { "no address column", Encoding.UTF8.GetBytes("name,consent_at\nAda,2024-01-01T00:00:00Z\n"), "text/csv" },
        { "an unclosed quote in the header", Encoding.UTF8.GetBytes("\"email,name\nada@example.org,Ada\n"), "text/csv" },
        { "NDJSON that is no JSON", Encoding.UTF8.GetBytes("{email: ada@example.org}\n"), "application/x-ndjson" },
        { "NDJSON without an address", Encoding.UTF8.GetBytes("{\"name\":\"Ada\"}\n"), "application/x-ndjson" },
        { "NDJSON of arrays", Encoding.UTF8.GetBytes("[\"ada@example.org\"]\n"), "application/x-ndjson" },
        { "UTF-16 without a byte order mark", Encoding.Unicode.GetBytes("email\nada@example.org\n"), "text/csv" },
    };

    [Theory]
    [MemberData(nameof(UnimportableFiles))]
    public async Task A_file_that_cannot_be_imported_is_a_400_problem(string what, byte[] body, string mediaType)
    {
        var response = await Post(Bytes(body, mediaType), mediaType.Contains("ndjson", StringComparison.Ordinal) ? "?format=ndjson" : "");

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{what}: {(int)response.StatusCode}");
        await AssertProblem(response, HttpStatusCode.BadRequest);
        await AssertNothingStored();
    }

    [Theory]
    [InlineData("csv")]
    [InlineData("ndjson")]
    public async Task A_50_MB_body_of_one_line_is_refused_without_holding_it(string format)
    {
        // streamed: the client never holds the body either
        var content = new StreamContent(new RepeatingStream((byte)'a', 50 * 1024 * 1024));
        content.Headers.ContentType = new MediaTypeHeaderValue(format == "csv" ? "text/csv" : "application/x-ndjson");

        var response = await Post(content, $"?format={format}");

        await AssertProblem(response, HttpStatusCode.BadRequest);
        await AssertNothingStored();
        Fixture.App.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_header_alone_imports_nothing_and_says_so()
    {
        var response = await Post(new StringContent("Email Address,First Name,OPTIN_TIME,LEID\n", Encoding.UTF8, "text/csv"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = await response.Content.ReadFromJsonAsync<ImportTests.Report>(JsonSerializerOptions.Web);
        Assert.Equal((0L, 0L, true), (report!.Rows, report.Created, report.Complete));
        await AssertNothingStored();
    }

    [Fact]
    public async Task A_truncated_csv_keeps_the_rows_before_the_cut_and_reports_where_it_stopped()
    {
        var file = "email,name\nfirst@example.org,First\nsecond@example.org,\"Sec";

        var response = await Post(new StringContent(file, Encoding.UTF8, "text/csv"), "?sendConfirmations=false");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = await response.Content.ReadFromJsonAsync<ImportTests.Report>(JsonSerializerOptions.Web);
        Assert.False(report!.Complete);
        Assert.Equal((1L, 1L), (report.Created, report.Invalid));
        Assert.Equal((3L, "csv_malformed"), (report.Errors[0].Line, report.Errors[0].Reason));
        Assert.Equal("first@example.org", await Scalar<string>("SELECT email FROM subscribers"));
    }

    [Fact]
    public async Task Huge_fields_and_wrong_types_are_bad_rows_not_failures()
    {
        var csv = $"email,name,consent_source\nbig@example.org,{new string('n', 500_000)},\nsrc@example.org,,https://x.example/{new string('p', 5000)}\nfine@example.org,,\n";
        var ndjson = $$$"""
            {"email":"ok2@example.org"}
            {"email":"huge@example.org","name":"{{{new string('n', 2 * 1024 * 1024)}}}"}
            {"email":5,"name":"Five"}
            {"email":"obj@example.org","name":{"first":"O"}}
            {"email":"ok@example.org","name":true}
            """;

        var fromCsv = await (await Post(new StringContent(csv, Encoding.UTF8, "text/csv"), "?sendConfirmations=false"))
            .Content.ReadFromJsonAsync<ImportTests.Report>(JsonSerializerOptions.Web);
        var fromNdjson = await (await Post(new StringContent(ndjson, Encoding.UTF8, "application/x-ndjson"), "?format=ndjson&sendConfirmations=false"))
            .Content.ReadFromJsonAsync<ImportTests.Report>(JsonSerializerOptions.Web);

        Assert.Equal((1L, 2L), (fromCsv!.Created, fromCsv.Invalid));
        Assert.Equal(["name_invalid", "source_invalid"], fromCsv.Errors.Select(e => e.Reason));
        // the line over 1 MB is skipped; "true" is a name like any other text
        Assert.Equal((2L, 3L), (fromNdjson!.Created, fromNdjson.Invalid));
        Assert.Equal([(2L, "line_too_long"), (3L, "email_invalid"), (4L, "wrong_type")], fromNdjson.Errors.Select(e => (e.Line, e.Reason)));
        Assert.Equal("fine@example.org ok2@example.org ok@example.org", await Scalar<string>("SELECT string_agg(email, ' ' ORDER BY email) FROM subscribers"));
        Fixture.App.AssertNoErrorsLogged();
    }

    /// <summary>A body of one byte repeated, made as it is read.</summary>
    sealed class RepeatingStream(byte value, long length) : Stream
    {
        long _position;

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, length - _position);
            buffer.AsSpan(offset, n).Fill(value);
            _position += n;
            return n;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
