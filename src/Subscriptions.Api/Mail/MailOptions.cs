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

    /// <summary>
    /// The envelope sender (Return-Path) of every mail, where receivers send bounces; unset = the
    /// From address. "{id}" in the local part makes it VERP-style: bounces+{id}@example.com
    /// names the outbox row of each mail.
    /// </summary>
    public string? ReturnPath { get; set; }

    public SecureSocketOptions SocketOptions => Security switch
    {
        SmtpSecurity.None => SecureSocketOptions.None,
        SmtpSecurity.StartTls => SecureSocketOptions.StartTls,
        SmtpSecurity.SslOnConnect => SecureSocketOptions.SslOnConnect,
        _ => SecureSocketOptions.Auto,
    };

    public static bool IsValidFrom(string value) => MailboxAddress.TryParse(value, out var address) && address.Address.Contains('@', StringComparison.Ordinal);
}
