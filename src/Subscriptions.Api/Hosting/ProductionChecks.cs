using MimeKit;
using Subscriptions.Api.Mail;

namespace Subscriptions.Api.Hosting;

/// <summary>
/// Settings whose defaults serve a developer and would fail quietly in Production: a sender every
/// receiving server refuses, and links in mails that point wherever the request happened to come from.
/// </summary>
public static class ProductionChecks
{
    public static WebApplicationBuilder AddProductionChecks(this WebApplicationBuilder builder)
    {
        if (!builder.Environment.IsProduction())
        {
            return builder;
        }

        builder.Services.AddOptions<SmtpOptions>()
            .Validate(o => IsDeliverableFrom(o.From),
                "Smtp__From must be set in Production to the newsletter's real sender, e.g. \"News <news@example.com>\" (a local address such as newsletter@localhost is refused by receiving servers).")
            .ValidateOnStart();
        builder.Services.AddOptions<SubscriptionsOptions>()
            .Validate(o => !string.IsNullOrWhiteSpace(o.PublicBaseUrl),
                "Subscriptions__PublicBaseUrl must be set in Production: links in mails need the public address, e.g. https://news.example.com.")
            .ValidateOnStart();
        return builder;
    }

    /// <summary>A mailbox in a domain other servers can reach: not localhost, not a single label.</summary>
    static bool IsDeliverableFrom(string from)
    {
        if (!MailboxAddress.TryParse(from, out var mailbox))
        {
            return true; // the malformed case has its own message (Smtp__From must be a mailbox)
        }

        var domain = mailbox.Domain.TrimEnd('.').ToLowerInvariant();
        return domain.Contains('.', StringComparison.Ordinal)
            && domain != "localhost" && !domain.EndsWith(".localhost", StringComparison.Ordinal)
            && !domain.EndsWith(".local", StringComparison.Ordinal) && !domain.EndsWith(".invalid", StringComparison.Ordinal);
    }
}
