using MimeKit;

namespace Subscriptions.Api.Mail;

/// <summary>
/// Smtp__From defaults to newsletter@localhost, which serves a developer's mail catcher and which
/// every receiving server refuses: a Production start must name the real sender.
/// </summary>
public static class DeliverableSender
{
    public static WebApplicationBuilder RequireDeliverableSenderInProduction(this WebApplicationBuilder builder)
    {
        if (builder.Environment.IsProduction())
        {
            builder.Services.AddOptions<SmtpOptions>()
                .Validate(o => IsDeliverable(o.From),
                    "Smtp__From must be set in Production to the newsletter's real sender, e.g. \"News <news@example.com>\" (a local address such as newsletter@localhost is refused by receiving servers).")
                .ValidateOnStart();
        }

        return builder;
    }

    /// <summary>A mailbox in a domain other servers can reach: not localhost, not a single label.</summary>
    static bool IsDeliverable(string from)
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
