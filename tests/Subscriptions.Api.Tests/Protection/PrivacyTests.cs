using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Protection;

/// <summary>No answer tells who is subscribed, and no log at Information or above names anyone.</summary>
public class PrivacyTests(ApiFixture fixture) : ApiTest(fixture)
{
    [Fact]
    public async Task Signup_answers_the_same_for_an_unknown_a_pending_and_a_confirmed_address_in_json_and_form()
    {
        await Client.PostAsJsonAsync("/api/subscriptions", new { email = "pending@example.org", consent = true });
        await Client.PostAsJsonAsync("/api/subscriptions", new { email = "member@example.org", consent = true });
        await Execute("UPDATE subscriptions SET status = 'confirmed', confirmed_at = now() WHERE subscriber_id = (SELECT id FROM subscribers WHERE email = 'member@example.org')");

        var answers = new List<string>();
        foreach (var email in new[] { "unknown@example.org", "pending@example.org", "member@example.org" })
        {
            var json = await Client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true });
            var form = await Client.PostAsync("/api/subscriptions", new FormUrlEncodedContent([KeyValuePair.Create("email", email), KeyValuePair.Create("consent", "on")]));
            answers.Add($"{(int)json.StatusCode} {await json.Content.ReadAsStringAsync()} | {(int)form.StatusCode} {form.Headers.Location} {await form.Content.ReadAsStringAsync()}");
        }

        Assert.Single(answers.Distinct());
    }

    [Fact]
    public async Task Unsubscribe_answers_the_same_for_an_active_an_unsubscribed_and_an_erased_subscription()
    {
        using var admin = AdminClient();
        foreach (var email in new[] { "a@example.org", "b@example.org", "c@example.org" })
        {
            await Client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true });
        }

        var links = (await admin.GetStringAsync("/api/admin/export?format=ndjson")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .ToDictionary(r => r.GetProperty("email").GetString()!, r => new Uri(r.GetProperty("unsubscribe_url").GetString()!));
        await Client.PostAsync(links["b@example.org"], null);
        await admin.DeleteAsync("/api/admin/subscribers/c%40example.org");

        var answers = new List<string>();
        foreach (var link in links.Values)
        {
            var response = await Client.PostAsync(link, new FormUrlEncodedContent([KeyValuePair.Create("List-Unsubscribe", "One-Click")]));
            answers.Add($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        Assert.Single(answers.Distinct());
    }

    [Fact]
    public async Task Logs_at_information_and_above_name_no_address_and_no_client_ip()
    {
        const string email = "Private.Person@Example.org", clientIp = "203.0.113.77";
        await using var app = Fixture.StartApp(("Subscriptions:TrustedProxies:0", "127.0.0.1"));
        using var client = app.CreateHttpClient();
        client.DefaultRequestHeaders.Add("X-Forwarded-For", clientIp);
        using var admin = app.CreateHttpClient();
        admin.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);

        // the whole life of a subscription, and some mistakes along the way
        await client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true, name = "Private Person" });
        await client.PostAsJsonAsync("/api/subscriptions", new { email = "private.person@", consent = true });
        var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync(email));
        var confirm = ConfirmationMailTests.ConfirmationLink(mail);
        await client.GetAsync(confirm.PathAndQuery);
        await client.PostAsync(confirm.PathAndQuery, null);
        await client.PostAsync(confirm.PathAndQuery, null);
        var export = await admin.GetStringAsync("/api/admin/export?format=ndjson");
        var unsubscribe = new Uri(JsonDocument.Parse(export).RootElement.GetProperty("unsubscribe_url").GetString()!);
        await client.PostAsync(unsubscribe.PathAndQuery, null);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/subscribers/{Uri.EscapeDataString(email)}")).StatusCode);

        var records = app.Logs.GetSnapshot().Where(r => r.Level >= LogLevel.Information).ToList();
        Assert.NotEmpty(records);
        var logged = string.Join('\n', records.Select(r => $"{r.Message} {r.Exception} {string.Join(' ', r.StructuredState?.Select(s => s.Value) ?? [])}"));
        Assert.DoesNotContain("private.person", logged, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(clientIp, logged);
    }
}
