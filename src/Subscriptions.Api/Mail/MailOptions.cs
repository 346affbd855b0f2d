using MailKit.Security;
using MimeKit;

namespace Subscriptions.Api.Mail;

public enum SmtpSecurity
{
    Auto,
    None,
    StartTls,
    SslOnConnect,
}

/// <summary>Outgoing mail: the public Smtp__* names of DESIGN.md.</summary>
public sealed class SmtpOptions
{
    public const string Section = "Smtp";

    /// <summary>No host: mail waits in the outbox until one is configured.</summary>
    public string? Host { get; set; }

    public int Port { get; set; } = 25;

    public SmtpSecurity Security { get; set; } = SmtpSecurity.Auto;

    public string? Username { get; set; }

    public string? Password { get; set; }

    /// <summary>The sender of lists that have none of their own.</summary>
    public string From { get; set; } = "Newsletter <newsletter@localhost>";

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    public SecureSocketOptions SocketOptions => Security switch
    {
        SmtpSecurity.None => SecureSocketOptions.None,
        SmtpSecurity.StartTls => SecureSocketOptions.StartTls,
        SmtpSecurity.SslOnConnect => SecureSocketOptions.SslOnConnect,
        _ => SecureSocketOptions.Auto,
    };

    public static bool IsValidFrom(string value) => MailboxAddress.TryParse(value, out var address) && address.Address.Contains('@', StringComparison.Ordinal);
}

/// <summary>How the outbox is worked through.</summary>
public sealed class OutboxOptions
{
    public const string Section = "Outbox";

    public int BatchSize { get; set; } = 50;

    /// <summary>
    /// SMTP connections sending side by side, each with its own batches: while one waits for the
    /// server, another's database work and composing go on.
    /// </summary>
    public int SmtpConnections { get; set; } = 4;

    /// <summary>Attempts before a message is dead-lettered.</summary>
    public int MaxAttempts { get; set; } = 10;

    /// <summary>How often to look for mail queued by other instances (this instance's own signups wake the dispatcher at once).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a claim holds: a crashed instance's messages are taken over after it.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Delay after the first failure; it doubles per attempt (with jitter) up to RetryMaxDelay.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>An SMTP connection unused this long is closed rather than reused.</summary>
    public TimeSpan ConnectionIdleTimeout { get; set; } = TimeSpan.FromSeconds(60);
}
