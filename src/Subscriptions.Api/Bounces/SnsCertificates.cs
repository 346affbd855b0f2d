using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Subscriptions.Api.Bounces;

/// <summary>
/// The certificates Amazon SNS signs with, fetched from SigningCertURL only where
/// Bounces__Ses__CertificateUrlPattern allows (by default https on SNS's own hosts: the TLS
/// handshake with Amazon's host is what vouches for the certificate), and kept: SNS signs with
/// few certificates and changes them rarely.
/// </summary>
public sealed partial class SnsCertificates(IHttpClientFactory httpClients, IOptions<BounceOptions> options, ILogger<SnsCertificates> logger)
{
    public const string HttpClientName = "sns";
    const int MaxCached = 64;
    const int MaxCertificateBytes = 64 * 1024;

    readonly ConcurrentDictionary<string, X509Certificate2> _cache = new(StringComparer.Ordinal);
    readonly Regex _allowed = new(options.Value.Ses.CertificateUrlPattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public bool IsAllowed(string? url) =>
        url is { Length: <= 2000 } && Uri.TryCreate(url, UriKind.Absolute, out var uri) && string.IsNullOrEmpty(uri.UserInfo) && _allowed.IsMatch(url);

    /// <summary>The certificate at an allowed URL; null when it cannot be had (the message then cannot be verified).</summary>
    public async Task<X509Certificate2?> GetAsync(string url, CancellationToken cancellationToken)
    {
        if (_cache.TryGetValue(url, out var cached))
        {
            return cached;
        }

        try
        {
            var client = httpClients.CreateClient(HttpClientName);
            using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode || response.Content.Headers.ContentLength > MaxCertificateBytes)
            {
                LogFetchFailed((int)response.StatusCode);
                return null;
            }

            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[MaxCertificateBytes + 1];
            var length = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
            if (length > MaxCertificateBytes)
            {
                return null;
            }

            var certificate = X509Certificate2.CreateFromPem(System.Text.Encoding.ASCII.GetString(buffer, 0, length));
            if (_cache.Count >= MaxCached)
            {
                _cache.Clear(); // bounded: a flood of allowed URLs cannot grow it
            }

            return _cache.GetOrAdd(url, certificate);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or CryptographicException or ArgumentException)
        {
            LogFetchFailed(0);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not fetch an SNS signing certificate (HTTP {Status}); the message is refused.")]
    partial void LogFetchFailed(int status);
}
