using System.Globalization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.OpenApi;
using Subscriptions.Api.Data;
using Subscriptions.Api.Pages;

namespace Subscriptions.Api.Hosting;

/// <summary>
/// What the OpenAPI document cannot learn from a handler's return type: the hosted pages a
/// browser gets, the 503 of a database outage, and the Retry-After that comes with 429 and 503.
/// </summary>
public static class OpenApiConventions
{
    /// <summary>These statuses can also come as a hosted HTML page (a browser's form post or link).</summary>
    public static TBuilder ProducesPage<TBuilder>(this TBuilder builder, params int[] statusCodes)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            foreach (var statusCode in statusCodes)
            {
                Response(operation, statusCode).Content![HtmlPage] = new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
            }

            return Task.CompletedTask;
        });

    /// <summary>
    /// The body of these (form) content types, whose fields differ from the JSON body's.
    /// Accepts&lt;T&gt; describes one type for all its content types, and only the last Accepts
    /// counts, for the document and for routing (a content type it does not list gets 415).
    /// </summary>
    public static RouteHandlerBuilder WithFormSchema<TForm>(this RouteHandlerBuilder builder, params string[] contentTypes) =>
        builder.AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
        {
            var schema = await context.GetOrCreateSchemaAsync(typeof(TForm), null, cancellationToken);
            if (operation.RequestBody is OpenApiRequestBody body)
            {
                body.Content ??= new Dictionary<string, OpenApiMediaType>();
                // A repeated field is an array: stated, so validators read one value as a list of one.
                var encoding = (schema.Properties ?? new Dictionary<string, IOpenApiSchema>())
                    .Where(p => p.Value.Type?.HasFlag(JsonSchemaType.Array) == true)
                    .ToDictionary(p => p.Key, _ => new OpenApiEncoding { Style = ParameterStyle.Form, Explode = true });
                foreach (var contentType in contentTypes)
                {
                    body.Content[contentType] = new OpenApiMediaType { Schema = schema, Encoding = encoding };
                }
            }
        });

    /// <summary>The endpoint reads or writes PostgreSQL, so an outage answers 503 (problem details, or a page where it serves pages).</summary>
    public static TBuilder ProducesUnavailable<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    /// <summary>Every 429 and 503 says when to come back.</summary>
    public static OpenApiOptions AddRetryAfterHeaders(this OpenApiOptions options) =>
        options.AddOperationTransformer((operation, _, _) =>
        {
            foreach (var (status, response) in operation.Responses ?? [])
            {
                if (status is "429" or "503" && response is OpenApiResponse concrete)
                {
                    concrete.Headers ??= new Dictionary<string, IOpenApiHeader>();
                    concrete.Headers["Retry-After"] = new OpenApiHeader
                    {
                        Description = status == "503"
                            ? string.Create(CultureInfo.InvariantCulture, $"Seconds to wait: {DatabaseUnavailableHandler.RetryAfterSeconds} while the database is unavailable.")
                            : "Seconds to wait before the next attempt.",
                        Schema = new OpenApiSchema { Type = JsonSchemaType.Integer },
                    };
                }
            }

            return Task.CompletedTask;
        });

    /// <summary>Marks an endpoint that reads the read-only database (<see cref="ReadOnlyDatabase"/>), whose 200 carries its state.</summary>
    public static TBuilder ReadsReplica<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ReadsReplicaMetadata());

    sealed record ReadsReplicaMetadata;

    /// <summary>The 200 of an endpoint that reads the replica documents the replica's headers (<see cref="ReplicaState"/>).</summary>
    public static OpenApiOptions AddReplicaHeaders(this OpenApiOptions options) =>
        options.AddOperationTransformer((operation, context, _) =>
        {
            if (context.Description.ActionDescriptor.EndpointMetadata.OfType<ReadsReplicaMetadata>().Any()
                && operation.Responses?.GetValueOrDefault("200") is OpenApiResponse ok)
            {
                ok.Headers ??= new Dictionary<string, IOpenApiHeader>();
                ok.Headers[ReplicaState.ReplayedAtHeader] = new OpenApiHeader
                {
                    Description = "With ConnectionStrings__SubscriptionsReadOnly: the primary's commit time of the last transaction the replica replayed (RFC 3339, UTC); everything committed until then is in the answer. Absent before the replica's first replay since it started.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "date-time" },
                };
                ok.Headers[ReplicaState.LagHeader] = new OpenApiHeader
                {
                    Description = "With ConnectionStrings__SubscriptionsReadOnly: seconds the replica is behind; 0 while it streams and has replayed all it received.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.Number },
                };
            }

            return Task.CompletedTask;
        });

    /// <summary>
    /// Every error a browser may be shown as a hosted page (<see cref="BrowserOrScript.PageStatuses"/>)
    /// is documented as text/html beside its problem details.
    /// </summary>
    public static OpenApiOptions AddErrorPages(this OpenApiOptions options) =>
        options.AddOperationTransformer((operation, _, _) =>
        {
            foreach (var (status, response) in operation.Responses ?? [])
            {
                if (int.TryParse(status, CultureInfo.InvariantCulture, out var code) && BrowserOrScript.PageStatuses.Contains(code)
                    && response is OpenApiResponse { Content: { } content } && content.ContainsKey("application/problem+json"))
                {
                    content.TryAdd(HtmlPage, new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String } });
                }
            }

            return Task.CompletedTask;
        });

    const string HtmlPage = "text/html";

    static OpenApiResponse Response(OpenApiOperation operation, int statusCode)
    {
        operation.Responses ??= [];
        var key = statusCode.ToString(CultureInfo.InvariantCulture);
        if (operation.Responses.TryGetValue(key, out var existing) && existing is OpenApiResponse response)
        {
            response.Content ??= new Dictionary<string, OpenApiMediaType>();
            return response;
        }

        response = new OpenApiResponse
        {
            Description = ReasonPhrases.GetReasonPhrase(statusCode),
            Content = new Dictionary<string, OpenApiMediaType>(),
        };
        operation.Responses[key] = response;
        return response;
    }
}
