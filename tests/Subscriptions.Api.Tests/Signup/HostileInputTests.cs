using System.Net;
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
        var response = await Client.PostAsync("/api/subscriptions",
            new StringContent(body, Encoding.ASCII, "application/x-www-form-urlencoded"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await AssertNothingStored();
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
}
