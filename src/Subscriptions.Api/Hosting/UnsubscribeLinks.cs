using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using Subscriptions.Api.Data;

namespace Subscriptions.Api.Hosting;

/// <summary>
/// Per-subscription unsubscribe links (for mails, exports and the unsubscribe endpoints alike) that a newsletter tool can put in List-Unsubscribe. They
/// are derived, not stored: the subscription's id and a 128-bit HMAC of it, base64url.
/// </summary>
public sealed class UnsubscribeLinks(ServiceKeys keys, PublicLinks links)
{
    public const string Path = "/unsubscribe";
    const int MacBytes = 16;
    const int TokenBytes = sizeof(long) + MacBytes;
    const int TokenChars = 32; // base64url of 24 bytes
    const string Purpose = "unsubscribe";

    /// <summary>
    /// Makes URLs for many subscriptions (an export): the key and the base URL are looked up
    /// once, and each URL then costs one HMAC and no I/O.
    /// </summary>
    public async ValueTask<UrlMaker> UrlMakerAsync(CancellationToken cancellationToken) =>
        new(links.Absolute($"{Path}/").AbsoluteUri, new PurposeMac(await keys.KeyAsync(cancellationToken), Purpose));

    /// <summary>The unsubscribe URL of one subscription (for a mail).</summary>
    public async ValueTask<Uri> UrlAsync(long subscriptionId, CancellationToken cancellationToken)
    {
        using var maker = await UrlMakerAsync(cancellationToken);
        return new Uri(new string(maker.Write(subscriptionId, new char[maker.Length])));
    }

    /// <summary>Not thread-safe: one per export.</summary>
    public sealed class UrlMaker(string prefix, PurposeMac mac) : IDisposable
    {
        /// <summary>The length of every URL it makes.</summary>
        public int Length => prefix.Length + TokenChars;

        /// <summary>Writes the URL into <paramref name="buffer"/> (at least <see cref="Length"/> long): no allocation per row.</summary>
        public ReadOnlySpan<char> Write(long subscriptionId, Span<char> buffer)
        {
            Span<byte> token = stackalloc byte[TokenBytes];
            ComputeToken(subscriptionId, mac, token);
            prefix.CopyTo(buffer);
            Base64Url.EncodeToChars(token, buffer.Slice(prefix.Length, TokenChars));
            return buffer[..Length];
        }

        public void Dispose() => mac.Dispose();
    }

    /// <summary>The subscription a token names, or null when it is not one of ours.</summary>
    public async ValueTask<long?> VerifyAsync(string token, CancellationToken cancellationToken)
    {
        // DecodeFromChars, not TryDecodeFromChars: the latter throws on text that is not base64url.
        var bytes = new byte[TokenBytes + 3];
        if (token.Length != TokenChars
            || Base64Url.DecodeFromChars(token, bytes, out _, out var written) != OperationStatus.Done || written != TokenBytes)
        {
            return null;
        }

        var subscriptionId = BinaryPrimitives.ReadInt64BigEndian(bytes);
        using var mac = new PurposeMac(await keys.KeyAsync(cancellationToken), Purpose);
        var expected = new byte[TokenBytes];
        ComputeToken(subscriptionId, mac, expected);
        return CryptographicOperations.FixedTimeEquals(expected, bytes.AsSpan(0, TokenBytes)) ? subscriptionId : null;
    }

    /// <summary>The token's bytes: the id, then the first 128 bits of its MAC.</summary>
    static void ComputeToken(long subscriptionId, PurposeMac purposeMac, Span<byte> token)
    {
        Span<char> id = stackalloc char[20];
        subscriptionId.TryFormat(id, out var digits, provider: System.Globalization.CultureInfo.InvariantCulture);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        purposeMac.Compute(id[..digits], mac);

        BinaryPrimitives.WriteInt64BigEndian(token, subscriptionId);
        mac[..MacBytes].CopyTo(token[sizeof(long)..]);
    }
}
