using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using Subscriptions.Api.Data;

namespace Subscriptions.Api.Hosting;

/// <summary>
/// Per-subscription unsubscribe links (for mails, exports and the unsubscribe endpoints alike) that a newsletter tool can put in List-Unsubscribe. They
/// are derived, not stored: the subscription's id, encrypted and signed (<see cref="IdTokens"/>), so a link reveals neither
/// the id nor how many subscriptions exist. Links mailed before carried the id in clear (the id and a 128-bit HMAC of it);
/// they keep working.
/// </summary>
public sealed class UnsubscribeLinks(ServiceKeys keys, PublicLinks links)
{
    public const string Path = "/unsubscribe";
    const string Purpose = "unsubscribe";

    /// <summary>Makes URLs for many subscriptions (an export); see <see cref="IdLinkMaker"/>.</summary>
    public async ValueTask<IdLinkMaker> UrlMakerAsync(CancellationToken cancellationToken) =>
        new(links.Absolute($"{Path}/").AbsoluteUri, new IdTokens(await keys.KeyAsync(cancellationToken), Purpose));

    /// <summary>The unsubscribe URL of one subscription (for a mail).</summary>
    public async ValueTask<Uri> UrlAsync(long subscriptionId, CancellationToken cancellationToken)
    {
        using var maker = await UrlMakerAsync(cancellationToken);
        return maker.Url(subscriptionId);
    }

    /// <summary>The subscription a token names, or null when it is not one of ours.</summary>
    public async ValueTask<long?> VerifyAsync(string token, CancellationToken cancellationToken)
    {
        var key = await keys.KeyAsync(cancellationToken);
        if (token.Length == LegacyTokenChars)
        {
            return VerifyLegacy(token, key);
        }

        using var tokens = new IdTokens(key, Purpose);
        return tokens.Read(token);
    }

    // Links mailed before this form existed: the id in clear, then the first 128 bits of its MAC.
    const int LegacyMacBytes = 16;
    const int LegacyTokenBytes = sizeof(long) + LegacyMacBytes;
    const int LegacyTokenChars = 32;

    static long? VerifyLegacy(string token, byte[] key)
    {
        // DecodeFromChars, not TryDecodeFromChars: the latter throws on text that is not base64url.
        var bytes = new byte[LegacyTokenBytes + 3];
        if (Base64Url.DecodeFromChars(token, bytes, out _, out var written) != OperationStatus.Done || written != LegacyTokenBytes)
        {
            return null;
        }

        var subscriptionId = BinaryPrimitives.ReadInt64BigEndian(bytes);
        Span<char> id = stackalloc char[20];
        subscriptionId.TryFormat(id, out var digits, provider: System.Globalization.CultureInfo.InvariantCulture);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        ServiceKeys.Mac(key, Purpose, id[..digits], mac);
        return CryptographicOperations.FixedTimeEquals(mac[..LegacyMacBytes], bytes.AsSpan(sizeof(long), LegacyMacBytes)) ? subscriptionId : null;
    }

    /// <summary>A link in the old form (the id in clear), as mails sent before carried it: for tests that old links keep working.</summary>
    public static string LegacyToken(long subscriptionId, byte[] key)
    {
        var token = new byte[LegacyTokenBytes];
        BinaryPrimitives.WriteInt64BigEndian(token, subscriptionId);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        ServiceKeys.Mac(key, Purpose, subscriptionId.ToString(System.Globalization.CultureInfo.InvariantCulture), mac);
        mac[..LegacyMacBytes].CopyTo(token.AsSpan(sizeof(long)));
        return Base64Url.EncodeToString(token);
    }
}
