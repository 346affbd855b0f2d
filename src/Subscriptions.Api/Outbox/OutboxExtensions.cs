using Microsoft.Extensions.Options;
using Subscriptions.Api.Confirmation;
using Subscriptions.Api.Mail;
using Subscriptions.Api.Webhooks;

namespace Subscriptions.Api.Outbox;

public static class OutboxExtensions
{
    /// <summary>The outbox and its transports: confirmation, reminder and welcome mails over SMTP, webhooks over HTTP.</summary>
    public static IServiceCollection AddOutbox(this IServiceCollection services)
    {
        services.AddOptions<SmtpOptions>()
            .BindConfiguration(SmtpOptions.Section)
            .Validate(o => o.Port is > 0 and <= 65535, "Smtp__Port must be a TCP port (1-65535).")
            .Validate(o => SmtpOptions.IsValidFrom(o.From), "Smtp__From must be a mailbox, e.g. \"News <news@example.com>\".")
            .Validate(o => o.Timeout > TimeSpan.Zero, "Smtp__Timeout must be positive.")
            .Validate(o => string.IsNullOrEmpty(o.ReturnPath) || Mail.ReturnPath.Parse(o.ReturnPath) is not null,
                "Smtp__ReturnPath must be an address, e.g. bounces@example.com, or bounces+{id}@example.com for VERP.")
            .ValidateOnStart();

        services.AddOptions<OutboxOptions>()
            .BindConfiguration(OutboxOptions.Section)
            .Validate(o => o.BatchSize is > 0 and <= 1000, "Outbox__BatchSize must be between 1 and 1000.")
            .Validate(o => o.SmtpConnections is > 0 and <= 16 && o.WebhookWorkers is > 0 and <= 64 && o.WebhookConcurrency is > 0 and <= 64,
                "Outbox__SmtpConnections must be between 1 and 16, Outbox__WebhookWorkers and Outbox__WebhookConcurrency between 1 and 64.")
            .Validate(o => o.MaxAttempts > 0, "Outbox__MaxAttempts must be at least 1.")
            .Validate(o => o.PollInterval > TimeSpan.Zero && o.Lease > TimeSpan.Zero
                && o.RetryBaseDelay > TimeSpan.Zero && o.RetryMaxDelay >= o.RetryBaseDelay,
                "Outbox__PollInterval, __Lease and __RetryBaseDelay must be positive, __RetryMaxDelay at least __RetryBaseDelay.")
            // a delivery is cut off when its claim's lease ends, and may start with half of it left
            // (it is renewed below that): an SMTP exchange must fit in half a lease
            .Validate<IOptions<SmtpOptions>>((o, smtp) => o.Lease >= 2 * smtp.Value.Timeout,
                "Outbox__Lease must be at least twice Smtp__Timeout.")
            .ValidateOnStart();

        services.AddOptions<ConfirmationOptions>()
            .BindConfiguration(ConfirmationOptions.Section)
            .Validate(o => o.TokenLifetime > TimeSpan.Zero, "Confirmation__TokenLifetime must be positive.")
            .Validate(o => o.ResendInterval >= TimeSpan.Zero && o.DailyLimit > 0,
                "Confirmation__ResendInterval must not be negative and Confirmation__DailyLimit must be at least 1.")
            .Validate(o => o.ReminderAfter >= TimeSpan.Zero, "Confirmation__ReminderAfter must not be negative (00:00:00 turns reminders off).")
            .ValidateOnStart();

        services.AddSingleton<OutboxSignal>();
        services.AddSingleton<MailTransport>();
        services.AddWebhooks();
        services.AddHostedService<OutboxDispatcher>();
        services.AddHostedService<ReminderJob>();
        return services;
    }
}
