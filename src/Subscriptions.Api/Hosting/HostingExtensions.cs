using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace Subscriptions.Api.Hosting;

public static class HostingExtensions
{
    public static WebApplicationBuilder AddSubscriptionsOptions(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<SubscriptionsOptions>()
            .BindConfiguration(SubscriptionsOptions.Section)
            .Validate(o => SubscriptionsOptions.IsValidBaseUrl(o.PublicBaseUrl),
                "Subscriptions__PublicBaseUrl must be an absolute http(s) URL without query or fragment, e.g. https://news.example.com.")
            .Validate(o => o.TrustedProxies.All(p => SubscriptionsOptions.TryParseProxy(p, out _)),
                "Subscriptions__TrustedProxies must hold IP addresses or CIDR networks, e.g. 10.0.0.0/8.")
            .ValidateOnStart();

        // X-Forwarded-For is believed only from configured proxies. The framework's default of
        // trusting loopback is dropped: a client on the same host must not pick its own address.
        builder.Services.AddOptions<ForwardedHeadersOptions>()
            .Configure<IOptions<SubscriptionsOptions>>((forwarded, subscriptions) =>
            {
                forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
                forwarded.ForwardLimit = null;
                forwarded.KnownIPNetworks.Clear();
                forwarded.KnownProxies.Clear();
                foreach (var proxy in subscriptions.Value.TrustedProxies)
                {
                    if (SubscriptionsOptions.TryParseProxy(proxy, out var network))
                    {
                        forwarded.KnownIPNetworks.Add(network);
                    }
                }
            });

        // links into this service, for mails, exports and pages alike
        builder.Services.AddSingleton<PublicLinks>();
        builder.Services.AddSingleton<UnsubscribeLinks>();
        builder.Services.AddSingleton<ManageLinks>();
        return builder;
    }

    /// <summary>
    /// Applies X-Forwarded-For from trusted proxies only. With no proxy configured the middleware
    /// stays out entirely: given empty lists it would believe the header from anyone.
    /// </summary>
    public static WebApplication UseTrustedProxies(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<SubscriptionsOptions>>().Value.TrustedProxies.Length > 0)
        {
            app.UseForwardedHeaders();
        }

        return app;
    }

    /// <summary>
    /// Checks every options class registered with ValidateOnStart. A bad configuration ends the
    /// process with one line per problem on standard error instead of a stack trace.
    /// </summary>
    public static bool HasValidConfiguration(this WebApplication app)
    {
        try
        {
            app.Services.GetRequiredService<IStartupValidator>().Validate();
            return true;
        }
        catch (Exception ex) when (ex is OptionsValidationException or AggregateException or InvalidOperationException)
        {
            // InvalidOperationException: a value the binder cannot convert, e.g. Smtp__Port=abc
            var failures = (ex is AggregateException aggregate ? aggregate.InnerExceptions : [ex])
                .SelectMany(e => e is OptionsValidationException validation ? validation.Failures : [e.Message])
                .Distinct(); // an options class another one reads (Smtp, read by Outbox) fails in both
            foreach (var failure in failures)
            {
                Console.Error.WriteLine($"Configuration error: {failure}");
            }

            return false;
        }
    }
}
