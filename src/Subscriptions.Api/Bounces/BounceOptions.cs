using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Subscriptions.Api.Bounces;

/// <summary>
/// Bounces__*: the credentials of the providers' bounce and complaint webhooks. A provider
/// without its credentials refuses every request (401).
/// </summary>
public sealed class BounceOptions
{
    public const string Section = "Bounces";

    /// <summary>The default of <see cref="SesOptions.CertificateUrlPattern"/>: Amazon SNS's own hosts, over HTTPS, and nothing else.</summary>
    public const string SnsCertificateUrls = @"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/SimpleNotificationService-[A-Za-z0-9]+\.pem$";

    /// <summary>Soft bounces within 7 days that suppress an address (repeated_soft_bounce).</summary>
    public int SoftBounceLimit { get; set; } = 3;

    /// <summary>How old a signed request's timestamp may be (Mailgun, SendGrid, SNS): older ones count as replayed.</summary>
    public TimeSpan ReplayWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The largest request body taken (SendGrid posts batches of events).</summary>
    public int MaxBodyBytes { get; set; } = 2 * 1024 * 1024;

    public PostmarkOptions Postmark { get; set; } = new();

    public MailgunOptions Mailgun { get; set; } = new();

    public SendGridOptions SendGrid { get; set; } = new();

    public SesOptions Ses { get; set; } = new();

    public sealed class PostmarkOptions
    {
        /// <summary>The HTTP basic auth user name put into the webhook URL at Postmark (https://user:password@host/...).</summary>
        public string? Username { get; set; }

        public string? Password { get; set; }

        public bool Configured => !string.IsNullOrEmpty(Username) && !string.IsNullOrEmpty(Password);
    }

    public sealed class MailgunOptions
    {
        /// <summary>The HTTP webhook signing key from Mailgun's dashboard.</summary>
        public string? SigningKey { get; set; }

        public bool Configured => !string.IsNullOrEmpty(SigningKey);
    }

    public sealed class SendGridOptions
    {
        /// <summary>The Signed Event Webhook's verification key: base64 DER (SubjectPublicKeyInfo) of an ECDSA P-256 key.</summary>
        public string? PublicKey { get; set; }

        public bool Configured => !string.IsNullOrEmpty(PublicKey);

        public static bool IsValidKey(string? key)
        {
            if (string.IsNullOrEmpty(key))
            {
                return true;
            }

            try
            {
                using var ecdsa = ECDsa.Create();
                ecdsa.ImportSubjectPublicKeyInfo(Convert.FromBase64String(key), out _);
                return true;
            }
            catch (Exception ex) when (ex is FormatException or CryptographicException)
            {
                return false;
            }
        }
    }

    public sealed class SesOptions
    {
        /// <summary>The SNS topics whose notifications are believed (TopicArns__0, __1…): messages of any other topic are refused.</summary>
        public string[] TopicArns { get; set; } = [];

        /// <summary>Where a signing certificate (SigningCertURL) may be fetched from; a regular expression over the whole URL.</summary>
        public string CertificateUrlPattern { get; set; } = SnsCertificateUrls;

        public bool Configured => TopicArns.Length > 0;

        public static bool IsValidPattern(string pattern)
        {
            try
            {
                _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
                return pattern.StartsWith('^') && pattern.EndsWith('$');
            }
            catch (ArgumentException)
            {
                return false;
            }
        }
    }
}
