using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using Subscriptions.Api.Data;

namespace Subscriptions.Api.Hosting;

/// <summary>
/// Per-subscription unsubscribe links (for mails, exports and the unsubscribe endpoints alike)
/// that a newsletter tool can put in List-Unsubscribe (<see cref="IdLinks"/>). Links mailed before
/// carried the id in clear (the id and a 128-bit HMAC of it); they keep working.
/// </summary>
public sealed class UnsubscribeLinks(ServiceKeys keys, PublicLinks links) : IdLinks(keys, links, Path, LinkPurpose)
{
    public const string Path = "/unsubscribe";
    const string LinkPurpose = "unsubscribe";

    public override async ValueTask<long?> VerifyAsync(string token, CancellationToken cancellationToken) =>
        token.Length == LegacyTokenChars ? VerifyLegacy(token, await Keys.KeyAsync(cancellationToken)) : await base.VerifyAsync(token, cancellationToken);

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
        ServiceKeys.Mac(key, LinkPurpose, id[..digits], mac);
        return CryptographicOperations.FixedTimeEquals(mac[..LegacyMacBytes], bytes.AsSpan(sizeof(long), LegacyMacBytes)) ? subscriptionId : null;
    }

    /// <summary>A link in the old form (the id in clear), as mails sent before carried it: for tests that old links keep working.</summary>
    public static string LegacyToken(long subscriptionId, byte[] key)
    {
        var token = new byte[LegacyTokenBytes];
        BinaryPrimitives.WriteInt64BigEndian(token, subscriptionId);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        ServiceKeys.Mac(key, LinkPurpose, subscriptionId.ToString(System.Globalization.CultureInfo.InvariantCulture), mac);
        mac[..LegacyMacBytes].CopyTo(token.AsSpan(sizeof(long)));
        return Base64Url.EncodeToString(token);
    }
}
