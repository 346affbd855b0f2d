namespace Subscriptions.Api.Hosting;

/// <summary>
/// A setting whose default serves a developer and would fail quietly in Production: links in mails
/// that point wherever the request happened to come from.
/// </summary>
public static class ProductionChecks
{
    public static WebApplicationBuilder AddProductionChecks(this WebApplicationBuilder builder)
    {
        if (builder.Environment.IsProduction())
        {
            builder.Services.AddOptions<SubscriptionsOptions>()
                .Validate(o => !string.IsNullOrWhiteSpace(o.PublicBaseUrl),
                    "Subscriptions__PublicBaseUrl must be set in Production: links in mails need the public address, e.g. https://news.example.com.")
                .ValidateOnStart();
        }

        return builder;
    }
}
