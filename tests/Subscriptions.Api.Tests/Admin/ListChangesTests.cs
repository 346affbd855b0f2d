using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Admin;

/// <summary>Lists changed in part (PATCH, a JSON merge patch), hidden from the preference centre, and archived (DELETE).</summary>
public class ListChangesTests(ApiFixture fixture) : ApiTest(fixture)
{
    async Task<HttpClient> AdminWithSport()
    {
        var admin = AdminClient();
        var created = await admin.PostAsJsonAsync("/api/admin/lists", new
        {
            slug = "sport", name = "Sport", senderName = "Sport Desk", senderEmail = "sport@news.example", consentText = "I agree to the sport terms",
            consentTextVersion = "v1", translations = new { de = new { name = "Sport", consentText = "Ich stimme zu." } },
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return admin;
    }

    static Task<HttpResponseMessage> Patch(HttpClient admin, string slug, string json, string contentType = "application/merge-patch+json") =>
        admin.PatchAsync($"/api/admin/lists/{slug}", new StringContent(json, Encoding.UTF8, contentType));

    [Fact]
    public async Task A_patch_changes_the_fields_given_and_keeps_the_others()
    {
        using var admin = await AdminWithSport();

        var patched = await Patch(admin, "sport", """{"name":"Sports","hidden":true,"welcome":true,"senderName":null,"translations":{"fr":{"name":"Sports","consentText":"J'accepte."}}}""");

        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var list = await admin.GetFromJsonAsync<JsonElement>("/api/admin/lists/sport");
        Assert.Equal("Sports", list.GetProperty("name").GetString());
        Assert.True(list.GetProperty("hidden").GetBoolean());
        Assert.True(list.GetProperty("welcome").GetBoolean());
        Assert.Equal(JsonValueKind.Null, list.GetProperty("senderName").ValueKind);
        Assert.Equal("sport@news.example", list.GetProperty("senderEmail").GetString());
        Assert.Equal("I agree to the sport terms", list.GetProperty("consentText").GetString());
        Assert.Equal(["de", "fr"], list.GetProperty("translations").EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(JsonValueKind.Null, list.GetProperty("archivedAt").ValueKind);
    }

    [Fact]
    public async Task A_patch_keeps_the_rules_of_a_replacement()
    {
        using var admin = await AdminWithSport();

        // the consent text may not change, nor a translation of it go, under the same version
        Assert.Equal(HttpStatusCode.Conflict, (await Patch(admin, "sport", """{"consentText":"Other terms"}""")).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await Patch(admin, "sport", """{"translations":{"de":null}}""")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Patch(admin, "sport", """{"consentText":"Other terms","consentTextVersion":"v2","translations":{"de":null}}""", "application/json")).StatusCode);
        // a required field taken away, a wrong type, a bad value: 400, nothing changed
        foreach (var body in new[] { """{"name":null}""", """{"welcome":"yes"}""", """{"senderEmail":"nobody@"}""", """{"name":"a\u0000b"}""", "[]", "null", "{", "" })
        {
            var refused = await Patch(admin, "sport", body);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await Patch(admin, "sport", """{"name":"x"}""", "text/plain")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Patch(admin, "nope", """{"name":"x"}""")).StatusCode);
        var list = await admin.GetFromJsonAsync<JsonElement>("/api/admin/lists/sport");
        Assert.Equal("Sport", list.GetProperty("name").GetString());
        Assert.Equal("v2", list.GetProperty("consentTextVersion").GetString());
    }

    [Fact]
    public async Task An_archived_list_takes_no_signups_and_its_subscriptions_stay_exportable()
    {
        using var admin = await AdminWithSport();
        Assert.Equal(HttpStatusCode.Accepted, (await Client.PostAsJsonAsync("/api/subscriptions", new { email = "fan@example.org", consent = true, lists = new[] { "sport" } })).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/admin/lists/sport")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/admin/lists/sport")).StatusCode);

        var signup = await Client.PostAsJsonAsync("/api/subscriptions", new { email = "late@example.org", consent = true, lists = new[] { "sport" } });
        Assert.Equal(HttpStatusCode.BadRequest, signup.StatusCode);
        Assert.True((await signup.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("lists", out _));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscribers WHERE email = 'late@example.org'"));
        var form = await Client.PostAsync("/api/subscriptions", new FormUrlEncodedContent([new("email", "late@example.org"), new("consent", "on"), new("list", "sport")]));
        Assert.Equal(HttpStatusCode.BadRequest, form.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/embed/form?list=sport")).StatusCode);

        var export = await admin.GetStringAsync("/api/admin/export?format=ndjson&list=sport");
        Assert.Equal("fan@example.org", JsonDocument.Parse(export).RootElement.GetProperty("email").GetString());
        var list = await admin.GetFromJsonAsync<JsonElement>("/api/admin/lists/sport");
        Assert.Equal(JsonValueKind.String, list.GetProperty("archivedAt").ValueKind);
    }

    [Fact]
    public async Task The_default_list_cannot_be_archived_and_an_unknown_one_is_404()
    {
        using var admin = AdminClient();

        var refused = await admin.DeleteAsync("/api/admin/lists/news");
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync("/api/admin/lists/nope")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync("/api/admin/lists/NEWS")).StatusCode);
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM lists WHERE archived_at IS NOT NULL"));
        Assert.Equal(HttpStatusCode.Accepted, (await Client.PostAsJsonAsync("/api/subscriptions", new { email = "still@example.org", consent = true })).StatusCode);
    }
}
