using System.Security.Cryptography;
using Dapper;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;
using Subscriptions.Api.Kernel;
using Subscriptions.Api.Outbox;
using Subscriptions.Api.Signup;

namespace Subscriptions.Api.Webhooks;

/// <summary>The admin API of outgoing webhooks: endpoints, and what was delivered to them.</summary>
public static class WebhookEndpoints
{
    public static readonly string[] EventTypes =
        ["subscription.created", "subscription.confirmed", "subscription.unsubscribed", "subscriber.suppressed", "subscriber.erased",
         "subscriber.updated"];

    public static IServiceCollection AddWebhooks(this IServiceCollection services)
    {
        services.AddOptions<WebhookOptions>()
            .BindConfiguration(WebhookOptions.Section)
            .Validate(o => o.Timeout > TimeSpan.Zero, "Webhooks__Timeout must be positive.")
            .ValidateOnStart();
        services.AddSingleton<WebhookEndpointCache>();
        services.AddSingleton<WebhookInputValidator>();
        services.AddSingleton<WebhookTransport>();
        services.AddHttpClient(WebhookTransport.HttpClientName, (provider, client) =>
            {
                client.Timeout = provider.GetRequiredService<IOptions<WebhookOptions>>().Value.Timeout;
                client.DefaultRequestHeaders.UserAgent.ParseAdd("Subscriptions-Webhooks/1");
            })
            .ConfigurePrimaryHttpMessageHandler(provider => new SocketsHttpHandler
            {
                AllowAutoRedirect = false, // a redirect could point anywhere, the internal network included
                ConnectCallback = WebhookAddressPolicy.ConnectCallback(provider.GetRequiredService<IOptions<WebhookOptions>>().Value.AllowPrivateNetworks),
                PooledConnectionLifetime = TimeSpan.FromMinutes(5), // receivers' DNS changes are seen
            });
        return services;
    }

    public static RouteGroupBuilder MapWebhookAdministration(this RouteGroupBuilder admin)
    {
        var webhooks = admin.MapGroup("/webhooks");
        webhooks.MapGet("/", GetEndpoints).WithName("GetWebhooks").WithSummary("Registered webhook endpoints (their secrets are never shown again).");
        webhooks.MapPost("/", Register).WithName("RegisterWebhook")
            .WithSummary("Registers an endpoint for some events (and optionally some lists); answers its signing secret, once.");
        webhooks.MapDelete("/{id:long}", Remove).WithName("RemoveWebhook").WithSummary("Removes an endpoint and what waits for it.");
        webhooks.MapGet("/{id:long}/deliveries", GetDeliveries).WithName("GetWebhookDeliveries")
            .WithSummary("The endpoint's most recent deliveries, newest first: event, status, attempts, last error.");
        webhooks.MapPost("/{id:long}/deliveries/{deliveryId:long}/retry", Retry).WithName("RetryWebhookDelivery")
            .WithSummary("Queues a dead-lettered delivery again, due at once; 409 if it is not dead.")
            .ProducesProblem(StatusCodes.Status409Conflict); // a ProblemHttpResult says nothing of its status to the document
        return admin;
    }

    // lists and description optional in the document too (a parameter without a default is a required property)
    public sealed record WebhookInput(string? Url, string[]? Events, string[]? Lists = null, string? Description = null);

    public sealed record WebhookEndpoint
    {
        public required long Id { get; init; }
        public required string Url { get; init; }
        public required string[] Events { get; init; }
        public required string[] Lists { get; init; }
        public string? Description { get; init; }
        public required DateTime CreatedAt { get; init; }
        public DateTime? DisabledAt { get; init; }
    }

    /// <summary>The answer to a registration: the only time the secret is shown.</summary>
    public sealed record RegisteredWebhook(long Id, string Url, string[] Events, string[] Lists, string? Description, string Secret);

    public sealed record WebhookDelivery(long Id, string Event, string Status, int Attempts, string? LastError, DateTime CreatedAt, DateTime? DeliveredAt);

    const string Columns = """
        id AS Id, url AS Url, events AS Events, lists AS Lists, description AS Description,
        created_at AS CreatedAt, disabled_at AS DisabledAt
        """;

    static async Task<Ok<List<WebhookEndpoint>>> GetEndpoints(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var endpoints = await connection.QueryAsync<WebhookEndpoint>(new CommandDefinition(
            $"SELECT {Columns} FROM webhook_endpoints ORDER BY id", cancellationToken: cancellationToken));
        return TypedResults.Ok(endpoints.ToList());
    }

    static async Task<Results<Created<RegisteredWebhook>, ValidationProblem>> Register(
        WebhookInput input, WebhookInputValidator validator, NpgsqlDataSource dataSource, WebhookEndpointCache cache,
        TimeProvider clock, CancellationToken cancellationToken)
    {
        var validation = await validator.ValidateAsync(input, cancellationToken);
        if (!validation.IsValid)
        {
            return TypedResults.ValidationProblem(validation.ToDictionary());
        }

        // Standard Webhooks: a secret of 24 to 64 random bytes, base64, prefixed whsec_.
        var secret = $"whsec_{Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))}";
        var events = input.Events!.Distinct().ToArray();
        var lists = (input.Lists ?? []).Distinct().ToArray();
        var description = string.IsNullOrWhiteSpace(input.Description) ? null : input.Description.Trim();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var id = await connection.ExecuteScalarAsync<long>(new CommandDefinition("""
            INSERT INTO webhook_endpoints (url, secret, events, lists, description, created_at)
            VALUES (@url, @secret, @events, @lists, @description, @now)
            RETURNING id
            """, new { url = input.Url!.Trim(), secret, events, lists, description, now = clock.GetUtcNow() }, cancellationToken: cancellationToken));
        cache.Invalidate();
        return TypedResults.Created($"/api/admin/webhooks/{id}", new RegisteredWebhook(id, input.Url.Trim(), events, lists, description, secret));
    }

    static async Task<Results<NoContent, NotFound>> Remove(long id, NpgsqlDataSource dataSource, WebhookEndpointCache cache, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var removed = await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM webhook_endpoints WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        cache.Invalidate();
        return removed == 0 ? TypedResults.NotFound() : TypedResults.NoContent();
    }

    static async Task<Results<Ok<List<WebhookDelivery>>, NotFound, ValidationProblem>> GetDeliveries(
        long id, int? limit, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > 1000)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = ["limit is between 1 and 1000."] });
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var deliveries = (await connection.QueryAsync<WebhookDelivery>(new CommandDefinition("""
            SELECT o.id AS Id, o.payload ->> 'type' AS Event,
                   CASE WHEN o.sent_at IS NOT NULL THEN 'delivered' WHEN o.dead_at IS NOT NULL THEN 'dead'
                        WHEN o.attempts > 0 THEN 'retrying' ELSE 'waiting' END AS Status,
                   o.attempts AS Attempts, o.last_error AS LastError, o.created_at AS CreatedAt, o.sent_at AS DeliveredAt
            FROM webhook_endpoints w
            LEFT JOIN LATERAL (
                SELECT id, payload, sent_at, dead_at, attempts, last_error, created_at
                FROM outbox WHERE kind = 'webhook' AND webhook_endpoint_id = w.id ORDER BY created_at DESC, id DESC LIMIT @limit
            ) o ON true
            WHERE w.id = @id
            ORDER BY o.created_at DESC, o.id DESC
            """, new { id, limit = limit ?? 100 }, cancellationToken: cancellationToken))).ToList();
        if (deliveries.Count == 0)
        {
            return TypedResults.NotFound();
        }

        // the endpoint exists but has had no delivery: its one row is the LEFT JOIN's empty match
        return TypedResults.Ok(deliveries.Where(d => d.Event is not null).ToList());
    }

    static async Task<Results<Accepted, NotFound, ProblemHttpResult>> Retry(
        long id, long deliveryId, NpgsqlDataSource dataSource, OutboxSignal signal, TimeProvider clock, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var state = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition("""
            WITH retried AS (
                UPDATE outbox SET dead_at = NULL, attempts = 0, due_at = @now, last_error = NULL
                WHERE id = @deliveryId AND webhook_endpoint_id = @id AND kind = 'webhook' AND dead_at IS NOT NULL
                  AND EXISTS (SELECT FROM webhook_endpoints WHERE id = @id AND disabled_at IS NULL)
                RETURNING id
            )
            SELECT CASE WHEN EXISTS (SELECT FROM retried) THEN 'retried'
                        WHEN EXISTS (SELECT FROM webhook_endpoints WHERE id = @id AND disabled_at IS NOT NULL) THEN 'disabled'
                        ELSE 'not dead' END
            FROM outbox WHERE id = @deliveryId AND webhook_endpoint_id = @id AND kind = 'webhook'
            """, new { id, deliveryId, now = clock.GetUtcNow() }, cancellationToken: cancellationToken));
        switch (state)
        {
            case null:
                return TypedResults.NotFound();
            case "retried":
                signal.Raise(OutboxLane.Webhooks);
                return TypedResults.Accepted($"/api/admin/webhooks/{id}/deliveries");
            case "disabled":
                return TypedResults.Problem("The endpoint answered 410 Gone and is disabled: register it again.",
                    statusCode: StatusCodes.Status409Conflict, title: "Endpoint disabled");
            default:
                return TypedResults.Problem("Only a dead-lettered delivery can be retried.",
                    statusCode: StatusCodes.Status409Conflict, title: "Delivery not dead");
        }
    }
}

public sealed class WebhookInputValidator : AbstractValidator<WebhookEndpoints.WebhookInput>
{
    public WebhookInputValidator(IOptions<WebhookOptions> options, SignupLists lists)
    {
        RuleLevelCascadeMode = CascadeMode.Stop;

        RuleFor(x => x.Url)
            .Must(url => WebhookAddressPolicy.Refusal(url, options.Value.AllowPrivateNetworks) is null)
            .WithMessage(x => WebhookAddressPolicy.Refusal(x.Url, options.Value.AllowPrivateNetworks)!)
            .OverridePropertyName("url");

        RuleFor(x => x.Events)
            .NotEmpty().WithMessage($"Name the events to deliver: {string.Join(", ", WebhookEndpoints.EventTypes)}.")
            .Must(e => e!.Length <= 20 && e.All(WebhookEndpoints.EventTypes.Contains))
            .WithMessage($"Events are some of {string.Join(", ", WebhookEndpoints.EventTypes)}.")
            .OverridePropertyName("events");

        RuleFor(x => x.Lists)
            .Must(l => l!.Length <= 100 && l.All(s => s is not null && InputRules.IsListSlug(s)))
            .WithMessage("Lists are list slugs (at most 100); none means every list.")
            .MustAsync(async (l, cancellationToken) => (await lists.FindAsync(l!.Distinct().ToList(), cancellationToken)).Count == l!.Distinct().Count())
            .WithMessage("There is no list of that name.")
            .When(x => x.Lists is not null)
            .OverridePropertyName("lists");

        RuleFor(x => x.Description)
            .MaximumLength(500).Must(d => InputRules.IsPlainText(d!)).WithMessage("The description is plain text of at most 500 characters.")
            .When(x => x.Description is not null)
            .OverridePropertyName("description");
    }
}
