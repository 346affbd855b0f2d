using System.Globalization;
using System.Text;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// The mail providers' side of the bounce webhooks' signatures, made by the openssl command line
/// and not by the service's code: Mailgun's HMAC, SendGrid's ECDSA (a P-256 key generated here,
/// whose public half the service is configured with) and Amazon SNS's RSA (a self-signed
/// certificate generated here, served by <see cref="SnsServer"/>).
/// </summary>
public static class ProviderSigning
{
    public const string PostmarkUser = "postmark-hook";
    public const string PostmarkPassword = "postmark-secret-0123456789";
    public const string MailgunKey = "key-mailgun-signing-0123456789abcdef";
    public const string SesTopic = "arn:aws:sns:us-east-1:123456789012:ses-bounces";

    static readonly Lazy<Keys> Generated = new(Generate);

    sealed record Keys(string Directory, string SendGridPublicKey, string SnsCertificatePem);

    public static string SendGridPublicKey => Generated.Value.SendGridPublicKey;

    public static string SnsCertificatePem => Generated.Value.SnsCertificatePem;

    /// <summary>The service's Bounces__* settings for these keys; SNS certificates from any loopback port (tests run servers of their own).</summary>
    public static Dictionary<string, string?> Settings() => new()
    {
        ["Bounces:Postmark:Username"] = PostmarkUser,
        ["Bounces:Postmark:Password"] = PostmarkPassword,
        ["Bounces:Mailgun:SigningKey"] = MailgunKey,
        ["Bounces:SendGrid:PublicKey"] = SendGridPublicKey,
        ["Bounces:Ses:TopicArns:0"] = SesTopic,
        ["Bounces:Ses:CertificateUrlPattern"] = @"^http://127\.0\.0\.1:[0-9]+/[A-Za-z0-9-]+\.pem$",
    };

    public static string PostmarkAuthorization(string user = PostmarkUser, string password = PostmarkPassword) =>
        "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));

    /// <summary>Mailgun's signature: hex HMAC-SHA256 of timestamp + token under the signing key.</summary>
    public static string MailgunSignature(string timestamp, string token, string key = MailgunKey)
    {
        var output = OpenSsl(["dgst", "-sha256", "-hmac", key, "-r"], Encoding.UTF8.GetBytes(timestamp + token));
        return output.Split(' ')[0].Trim();
    }

    /// <summary>SendGrid's signature: base64 DER ECDSA-SHA256 over the timestamp and the body.</summary>
    public static string SendGridSignature(string timestamp, byte[] body) =>
        Convert.ToBase64String(OpenSslBytes(["dgst", "-sha256", "-sign", Path.Combine(Generated.Value.Directory, "sendgrid.pem")],
            [.. Encoding.UTF8.GetBytes(timestamp), .. body]));

    /// <summary>SNS's signature: base64 RSA (SHA1 for SignatureVersion 1, SHA256 for 2) over the string to sign.</summary>
    public static string SnsSignature(string stringToSign, int version = 2) =>
        Convert.ToBase64String(OpenSslBytes(["dgst", version == 1 ? "-sha1" : "-sha256", "-sign", Path.Combine(Generated.Value.Directory, "sns.key")],
            Encoding.UTF8.GetBytes(stringToSign)));

    public static string UnixNow(TimeSpan offset = default) =>
        (DateTimeOffset.UtcNow + offset).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

    static Keys Generate()
    {
        var directory = Directory.CreateTempSubdirectory("provider-keys-").FullName;
        string In(string name) => Path.Combine(directory, name);
        OpenSsl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", In("sendgrid.pem")]);
        OpenSsl(["ec", "-in", In("sendgrid.pem"), "-pubout", "-outform", "DER", "-out", In("sendgrid.der")]);
        OpenSsl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", In("sns.key"), "-out", In("sns.pem"),
            "-subj", "/CN=sns.us-east-1.amazonaws.com", "-days", "2"]);
        return new Keys(directory, Convert.ToBase64String(File.ReadAllBytes(In("sendgrid.der"))), File.ReadAllText(In("sns.pem")));
    }

    static string OpenSsl(string[] arguments, byte[]? input = null) => Encoding.UTF8.GetString(OpenSslBytes(arguments, input));

    static byte[] OpenSslBytes(string[] arguments, byte[]? input = null)
    {
        var start = new System.Diagnostics.ProcessStartInfo("openssl")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        using (var stdin = process.StandardInput.BaseStream)
        {
            stdin.Write(input ?? []);
        }

        using var output = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(output);
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"openssl {string.Join(' ', arguments)}: {error.Result}");
        }

        return output.ToArray();
    }
}
