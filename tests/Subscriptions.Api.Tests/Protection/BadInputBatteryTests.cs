using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;
using Subscriptions.Api.Tests.Protection.Battery;
using Xunit.Abstractions;

namespace Subscriptions.Api.Tests.Protection;

/// <summary>
/// Thousands of generated requests no client of ours would send, to every route the running
/// service serves, in categories. Each must get a 4xx problem (or the hosted page a browser
/// expects, or, for input a route does not read, its usual answer), nothing may be stored and
/// nothing logged as an error. The table of what each category got is printed.
/// </summary>
public class BadInputBatteryTests(ApiFixture fixture, ITestOutputHelper output) : ApiTest(fixture)
{
    /// <summary>Everything the service keeps: the battery must leave each exactly as the valid set-up calls left it.</summary>
    static readonly string[] Tables = ["subscribers", "subscriptions", "subscription_events", "outbox", "lists", "list_translations", "webhook_endpoints", "tokens", "erasures",
        "suppressions", "bounce_events", "bounce_webhook_nonces"];

    sealed record Result(string Category, string Route, string Method, int Status, string? Failure);

    [Fact]
    public async Task Hostile_requests_to_every_route_get_a_4xx_problem_or_page_and_store_nothing()
    {
        var targets = await SetUpAsync();
        var before = await SnapshotAsync();
        var routes = ServedRoutes();
        var sender = new BatterySender(Fixture.App.BaseAddress);

        var cases = SignupCases.Cases()
            .Concat(LinkCases.Cases(targets))
            .Concat(PageCases.Cases())
            .Concat(AdminCases.Cases(targets))
            .Concat(WebhookCases.Cases(targets))
            .Concat(SuppressionCases.Cases(targets))
            .Concat(PersonCases.Cases(targets))
            .Concat(ListChangeCases.Cases(targets))
            .Concat(ImportCases.Cases(targets))
            .Concat(BounceCases.Cases())
            .Concat(GenericCases.Cases(routes, targets, Fixture.App.BaseAddress.Authority));

        // eight at a time, streamed: the bodies of 10 MB and more are made when their turn comes
        var results = new ConcurrentQueue<Result>();
        var elapsed = Stopwatch.StartNew();
        await Parallel.ForEachAsync(cases, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (c, _) =>
        {
            var answer = await sender.SendAsync(c);
            var failure = c.Expected.Accepts(answer.Status, answer.MediaType, c.Method)
                ? null
                : $"{answer.Status} {answer.MediaType}, not {c.Expected.Name}, for {c.Describe()}";
            results.Enqueue(new Result(c.Category, c.Route, c.Method, answer.Status, failure));
        });

        output.WriteLine($"{results.Count} requests in {elapsed.Elapsed.TotalSeconds:F0} s");
        PrintTable([.. results]);
        PrintCoverage(routes, [.. results]);
        Assert.True(results.Count >= 5_000, $"{results.Count} requests");
        var failures = results.Where(r => r.Failure is not null).Select(r => r.Failure).Concat(Uncovered(routes, [.. results])).ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} failures:\n{string.Join('\n', failures.Take(100))}");
        Assert.Equal(before, await SnapshotAsync());
    }

    List<ServedRoute> ServedRoutes()
    {
        var routes = ServedRoute.Of(Fixture.App.Services);
        output.WriteLine($"{routes.Count} routes: {string.Join(", ", routes.Select(r => $"{string.Join('|', r.Methods ?? ["*"])} {r.Template}"))}");
        return routes;
    }

    /// <summary>Routes and methods served that no case written for them reached (the generic sweeps do not count).</summary>
    static IEnumerable<string> Uncovered(List<ServedRoute> routes, List<Result> results) =>
        from route in routes
        from method in route.Methods ?? ["GET"]
        where !results.Any(r => r.Route == route.Template && r.Method == method && !GenericCases.Categories.Contains(r.Category))
        select $"no cases for {method} {route.Template}";

    void PrintTable(List<Result> results)
    {
        output.WriteLine($"{"category",-34} {"requests",8}  statuses");
        foreach (var category in results.GroupBy(r => r.Category))
        {
            var statuses = string.Join(", ", category.GroupBy(r => r.Status).OrderBy(g => g.Key).Select(g => $"{g.Key}×{g.Count()}"));
            output.WriteLine($"{category.Key,-34} {category.Count(),8}  {statuses}");
        }

        output.WriteLine($"{"all",-34} {results.Count,8}  {string.Join(", ", results.GroupBy(r => r.Status).OrderBy(g => g.Key).Select(g => $"{g.Key}×{g.Count()}"))}");
    }

    void PrintCoverage(List<ServedRoute> routes, List<Result> results)
    {
        output.WriteLine("");
        output.WriteLine($"{"route",-82} {"own",5} {"all",6}");
        foreach (var route in routes)
        {
            foreach (var method in route.Methods ?? ["*"])
            {
                var aimed = results.Where(r => r.Route == route.Template && (r.Method == method || method == "*")).ToList();
                output.WriteLine($"{method + " " + route.Template,-82} {aimed.Count(r => !GenericCases.Categories.Contains(r.Category)),5} {aimed.Count,6}");
            }
        }
    }

    /// <summary>
    /// Valid calls make what the cases aim at: a list, a webhook endpoint on loopback (paused, so
    /// nothing is sent to it), a pending signup with its confirmation mail sent, and from those
    /// a confirmation token, an unsubscribe token and a waiting delivery.
    /// </summary>
    async Task<BatteryTargets> SetUpAsync()
    {
        using var admin = AdminClient();
        var list = await admin.PostAsJsonAsync("/api/admin/lists",
            new
            {
                slug = "battery", name = "Battery", consentText = "I agree to the battery.", consentTextVersion = "v1",
                translations = new { de = new { name = "Batterie", consentText = "Ich stimme der Batterie zu." } },
            });
        Assert.Equal(HttpStatusCode.Created, list.StatusCode);
        var webhook = await admin.PostAsJsonAsync("/api/admin/webhooks",
            new { url = "http://127.0.0.1:9/battery-hook", events = new[] { "subscription.created" } });
        Assert.Equal(HttpStatusCode.Created, webhook.StatusCode);
        var webhookId = (await webhook.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        await Execute("UPDATE webhook_endpoints SET paused_until = now() + interval '1 hour'");

        Assert.Equal(HttpStatusCode.Accepted, (await Client.PostAsJsonAsync("/api/subscriptions",
            new { email = "battery@example.org", consent = true, lists = new[] { "battery" } })).StatusCode);
        var link = ConfirmationMailTests.ConfirmationLink(Assert.Single(await Fixture.Mail.WaitForMailToAsync("battery@example.org")));
        await Eventually.TrueAsync(() => Scalar<bool>("SELECT bool_and(sent_at IS NOT NULL) FROM outbox WHERE kind = 'confirmation'"),
            TimeSpan.FromSeconds(10), "the confirmation mail is marked sent");

        var subscriptionId = await Scalar<long>("SELECT id FROM subscriptions");
        var unsubscribe = await Fixture.App.Services.GetRequiredService<UnsubscribeLinks>().UrlAsync(subscriptionId, CancellationToken.None);
        var manage = await Fixture.App.Services.GetRequiredService<ManageLinks>().UrlAsync(subscriptionId, CancellationToken.None);
        return new BatteryTargets(
            ApiFixture.AdminKey,
            "battery",
            link.Segments[^1],
            unsubscribe.Segments[^1],
            webhookId,
            await Scalar<long>("SELECT id FROM outbox WHERE kind = 'webhook'"),
            manage.Segments[^1]);
    }

    async Task<Dictionary<string, string>> SnapshotAsync()
    {
        await using var connection = await Database.OpenConnectionAsync();
        var snapshot = new Dictionary<string, string>();
        foreach (var table in Tables)
        {
            // a fixed list of names, never input: the one place a table name goes into SQL
            snapshot[table] = await connection.ExecuteScalarAsync<string>(
                $"SELECT count(*) || ' rows ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {table} t") ?? "";
        }

        return snapshot;
    }
}
