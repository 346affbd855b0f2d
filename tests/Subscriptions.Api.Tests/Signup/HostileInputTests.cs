using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Signup;

/// <summary>Every field gets values no form would send: nothing may answer 5xx or be stored.</summary>
public class HostileInputTests(ApiFixture fixture) : ApiTest(fixture)
{
    static readonly string[] Fields = ["email", "consent", "name", "locale", "lists", "source"];

    // raw JSON values: each is invalid for every field it is put in
    static readonly string[] JsonValues =
    [
        "\"\\ud800\"", "\"a\\u0000b@example.com\"", "\"x@example.com\\r\\nBcc: y@example.com\"",
        $"\"{new string('a', 100_000)}\"", "123", "-1e999", "{}", "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":1}}}}}}}}",
        "[[]]", "[\"\\udfff\"]", "\"' OR 1=1; DROP TABLE subscribers; --\\u0007\"",
    ];

    public static TheoryData<string, string> JsonCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var field in Fields)
        {
            foreach (var value in JsonValues)
            {
                data.Add(field, value);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(JsonCases))]
    public async Task Hostile_json_values_get_a_4xx_and_store_nothing(string field, string value)
    {
        var fields = new Dictionary<string, string>
        {
            ["email"] = "\"ann@example.com\"", ["consent"] = "true",
        };
        fields[field] = value;
        var body = "{" + string.Join(",", fields.Select(f => $"\"{f.Key}\":{f.Value}")) + "}";
        var response = await Client.PostAsync("/api/subscriptions", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.InRange((int)response.StatusCode, 400, 499);
        await AssertNothingStored();
    }

    [Theory]
    [InlineData(new byte[] { 0x7b, 0x22, 0x65, 0x6d, 0x61, 0x69, 0x6c, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d })]
    [InlineData(new byte[] { 0xef, 0xbb, 0xbf, 0x00, 0x00 })]
    [InlineData(new byte[] { 0x00 })]
    public async Task Invalid_utf8_json_gets_400(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");

        var response = await Client.PostAsync("/api/subscriptions", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await AssertNothingStored();
    }

    [Theory]
    [InlineData("email=%00&consent=on")]
    [InlineData("email=a%40example.com&consent=on&name=%00")]
    [InlineData("email=a%40example.com&consent=on&source=https%3A%2F%2Fx.example%2F%00")]
    [InlineData("email=a%40example.com&consent=on&list=%FF")]
    [InlineData("email=a%40example.com%0D%0ABcc%3A%20b%40example.com&consent=on")]
    [InlineData("email=a%40example.com&consent=on&locale=en%00")]
    [InlineData("%%%%&&&===")]
    public async Task Hostile_form_values_get_400_and_store_nothing(string body)
    {
        var content = new ByteArrayContent(Encoding.ASCII.GetBytes(body));
        content.Headers.ContentType = new("application/x-www-form-urlencoded");

        var response = await Client.PostAsync("/api/subscriptions", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await AssertNothingStored();
    }

    const string Boundary = "signup-boundary";

    static string Part(string name, string value) =>
        $"--{Boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n";

    static readonly string ValidParts = Part("email", "ann@example.com") + Part("consent", "on");

    /// <summary>Bodies a broken or hostile client sends as multipart/form-data; each is a valid signup but for the flaw.</summary>
    public static TheoryData<string, string, string> MalformedMultipart() => new()
    {
        { "a body whose boundary is not the announced one", $"multipart/form-data; boundary=other", ValidParts + $"--{Boundary}--\r\n" },
        { "an unterminated last part", $"multipart/form-data; boundary={Boundary}", ValidParts + $"--{Boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAnn" },
        { "no closing boundary", $"multipart/form-data; boundary={Boundary}", ValidParts },
        { "no boundary parameter", "multipart/form-data", ValidParts + $"--{Boundary}--\r\n" },
        { "a boundary longer than the reader takes (128)", $"multipart/form-data; boundary={new string('b', 129)}", ValidParts.Replace(Boundary, new string('b', 129), StringComparison.Ordinal) + $"--{new string('b', 129)}--\r\n" },
        { "a part without a name", $"multipart/form-data; boundary={Boundary}", ValidParts + $"--{Boundary}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{Boundary}--\r\n" },
        { "a file part", $"multipart/form-data; boundary={Boundary}", ValidParts + $"--{Boundary}\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"cv.exe\"\r\nContent-Type: application/octet-stream\r\n\r\nMZ\r\n--{Boundary}--\r\n" },
        { "the address as a file", $"multipart/form-data; boundary={Boundary}", Part("consent", "on") + $"--{Boundary}\r\nContent-Disposition: form-data; name=\"email\"; filename=\"email.txt\"\r\n\r\nann@example.com\r\n--{Boundary}--\r\n" },
        { "10,000 parts", $"multipart/form-data; boundary={Boundary}", ValidParts + string.Concat(Enumerable.Repeat(Part("x", "1"), 10_000)) + $"--{Boundary}--\r\n" },
        { "a part header line of 20 kB", $"multipart/form-data; boundary={Boundary}", ValidParts + $"--{Boundary}\r\nContent-Disposition: form-data; name=\"{new string('n', 20_000)}\"\r\n\r\nx\r\n--{Boundary}--\r\n" },
    };

    [Theory]
    [MemberData(nameof(MalformedMultipart))]
    public async Task Malformed_multipart_gets_a_4xx_problem_and_stores_nothing(string flaw, string contentType, string body)
    {
        foreach (var chunked in new[] { false, true })
        {
            var bytes = Encoding.UTF8.GetBytes(body);
            HttpContent content = chunked ? new StreamContent(new MemoryStream(bytes)) : new ByteArrayContent(bytes);
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);

            var response = await Client.PostAsync("/api/subscriptions", content);

            Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge,
                $"{flaw} (chunked: {chunked}): {(int)response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        await AssertNothingStored();
    }

    [Fact]
    public async Task Ten_thousand_parts_within_the_largest_body_limit_get_400_from_the_readers_count_limit()
    {
        // at the default 16 kB the body limit refuses them first (413); at 1 MB they all arrive
        await using var app = Fixture.StartApp(("Signup:MaxBodyBytes", "1048576"));
        using var client = app.CreateHttpClient();
        var body = ValidParts + string.Concat(Enumerable.Repeat(Part("x", "1"), 10_000)) + $"--{Boundary}--\r\n";
        Assert.InRange(body.Length, 500_000, 1_048_576);
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", $"multipart/form-data; boundary={Boundary}");

        var response = await client.PostAsync("/api/subscriptions", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("Malformed form", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());
        await AssertNothingStored();
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_well_formed_multipart_signup_is_accepted()
    {
        using var form = new MultipartFormDataContent(Boundary) { { new StringContent("ann@example.com"), "email" }, { new StringContent("on"), "consent" } };

        var response = await Client.PostAsync("/api/subscriptions", form);

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM subscribers"));
    }

    [Theory]
    [InlineData("application/json; charset=utf-16")]
    [InlineData("application/json; charset=UTF-16LE")]
    [InlineData("application/json; charset=\"utf-16\"")]
    [InlineData("application/json; charset=utf-32")]
    [InlineData("application/json; charset=iso-8859-1")]
    [InlineData("application/json; charset=us-ascii")]
    [InlineData("application/json; charset=utf-7")]
    [InlineData("application/json; charset=x-no-such-charset")]
    [InlineData("application/x-www-form-urlencoded; charset=iso-8859-1")]
    [InlineData("application/x-www-form-urlencoded; charset=us-ascii")]
    [InlineData("application/x-www-form-urlencoded; charset=utf-16")]
    [InlineData("application/x-www-form-urlencoded; charset=x-no-such-charset")]
    [InlineData("multipart/form-data; boundary=signup-boundary; charset=windows-1252")]
    public async Task A_body_declared_in_a_charset_other_than_utf8_gets_415_and_stores_nothing(string contentType)
    {
        var body = contentType.StartsWith("application/json", StringComparison.Ordinal) ? """{"email":"ann@example.com","consent":true}"""
            : contentType.StartsWith("multipart", StringComparison.Ordinal) ? ValidParts + $"--{Boundary}--\r\n"
            : "email=ann%40example.com&consent=on";
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        var response = await Client.PostAsync("/api/subscriptions", content);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        await AssertNothingStored();
    }

    [Fact]
    public async Task Json_really_encoded_as_utf16_gets_415()
    {
        var response = await Client.PostAsync("/api/subscriptions",
            new StringContent("""{"email":"ann@example.com","consent":true}""", Encoding.Unicode, "application/json"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        await AssertNothingStored();
    }

    [Theory]
    [InlineData("application/json", HttpStatusCode.Accepted)]
    [InlineData("application/json; charset=utf-8", HttpStatusCode.Accepted)]
    [InlineData("application/json; charset=UTF-8", HttpStatusCode.Accepted)]
    [InlineData("application/json;charset=\"Utf-8\"", HttpStatusCode.Accepted)]
    [InlineData("application/x-www-form-urlencoded; charset=UTF-8", HttpStatusCode.SeeOther)]
    [InlineData("multipart/form-data; boundary=signup-boundary; charset=utf-8", HttpStatusCode.SeeOther)]
    public async Task Utf8_with_or_without_a_declared_charset_is_accepted(string contentType, HttpStatusCode expected)
    {
        var body = contentType.StartsWith("application/json", StringComparison.Ordinal) ? """{"email":"ann@example.com","consent":true}"""
            : contentType.StartsWith("multipart", StringComparison.Ordinal) ? ValidParts + $"--{Boundary}--\r\n"
            : "email=ann%40example.com&consent=on";
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        var response = await Client.PostAsync("/api/subscriptions", content);

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM subscribers"));
    }

    [Theory]
    [InlineData("ann@exam\u200Bple.com")] // zero-width space in the domain
    [InlineData("ann@example.com\u202E")] // right-to-left override
    [InlineData("a\u202Enn@example.com")]
    [InlineData("ann@ex\u0430mple.com")] // Cyrillic а in a Latin label
    [InlineData("ann@\u03B1pple.com")] // Greek α in a Latin label
    public async Task Addresses_with_invisible_characters_or_mixed_scripts_get_the_usual_message_and_store_nothing(string email)
    {
        var json = await Client.PostAsync("/api/subscriptions", new StringContent(
            JsonSerializer.Serialize(new { email, consent = true }), Encoding.UTF8, "application/json"));
        var form = await Client.PostAsync("/api/subscriptions", new FormUrlEncodedContent([KeyValuePair.Create("email", email), KeyValuePair.Create("consent", "on")]));

        Assert.Equal(HttpStatusCode.BadRequest, json.StatusCode);
        var errors = (await json.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal("Enter a valid email address, like name@example.com.", errors.GetProperty("email")[0].GetString());
        Assert.Equal(HttpStatusCode.BadRequest, form.StatusCode);
        Assert.Contains("Enter a valid email address", await form.Content.ReadAsStringAsync());
        await AssertNothingStored();
    }

    [Theory]
    [InlineData("info@例え.テスト", "info@xn--r8jz45g.xn--zckzah")]
    [InlineData("info@中文域名.cn", "info@xn--fiq06l2rdsvs.cn")]
    [InlineData("info@한국漢字abc.kr", "info@xn--abc-z69er78f016fuouc.kr")]
    public async Task Japanese_Chinese_and_Korean_domains_are_accepted(string email, string normalized)
    {
        var response = await Client.PostAsync("/api/subscriptions", new StringContent(
            JsonSerializer.Serialize(new { email, consent = true }), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await using var connection = await Database.OpenConnectionAsync();
        Assert.Equal((normalized, email), await connection.QuerySingleAsync<(string, string)>("SELECT email, email_as_typed FROM subscribers"));
    }

    [Fact]
    public async Task A_json_name_with_an_emoji_is_stored_intact()
    {
        var response = await Client.PostAsync("/api/subscriptions", new StringContent(
            JsonSerializer.Serialize(new { email = "ann@example.com", consent = true, name = "Ann 🦉" }), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await using var connection = await Database.OpenConnectionAsync();
        Assert.Equal("Ann 🦉", await connection.ExecuteScalarAsync<string>("SELECT name FROM subscribers"));
    }

    async Task AssertNothingStored()
    {
        await using var connection = await Database.OpenConnectionAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>(
            "SELECT (SELECT count(*) FROM subscribers) + (SELECT count(*) FROM subscription_events)"));
    }

    [Fact]
    public async Task A_chunk_size_that_overflows_gets_400_not_500()
    {
        // Kestrel throws a plain IOException for it, not the BadHttpRequestException of other bad framing
        // (over a socket: HttpClient frames its bodies itself)
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(Fixture.App.BaseAddress.Host, Fixture.App.BaseAddress.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /api/subscriptions HTTP/1.1\r\nHost: {Fixture.App.BaseAddress.Authority}\r\nContent-Type: application/json\r\n"
            + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n"));
        var answer = await new StreamReader(stream, Encoding.ASCII).ReadToEndAsync();

        Assert.StartsWith("HTTP/1.1 400 ", answer, StringComparison.Ordinal);
        Assert.Contains("Content-Type: application/problem+json", answer, StringComparison.Ordinal);
        await AssertNothingStored();
    }
}
