using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using Subscriptions.Api.Data;
using Subscriptions.Api.Hosting;

namespace Subscriptions.Api.Unsubscribe;

/// <summary>
/// Per-subscription unsubscribe links that a newsletter tool can put in List-Unsubscribe. They
/// are derived, not stored: the subscription's id and a 128-bit HMAC of it, base64url.
/// </summary>
public sealed class UnsubscribeLinks(ServiceKeys keys, PublicLinks links)
{
    public const string Path = "/unsubscribe";
    const string Purpose = "unsubscribe";
    const int MacBytes = 16;

    public async ValueTask<string> TokenAsync(long subscriptionId, CancellationToken cancellationToken)
    {
        var token = new byte[sizeof(long) + MacBytes];
        BinaryPrimitives.WriteInt64BigEndian(token, subscriptionId);
        (await MacAsync(subscriptionId, cancellationToken)).AsSpan(0, MacBytes).CopyTo(token.AsSpan(sizeof(long)));
        return Base64Url.EncodeToString(token);
    }

    public async ValueTask<Uri> UrlAsync(long subscriptionId, CancellationToken cancellationToken) =>
        links.Absolute($"{Path}/{await TokenAsync(subscriptionId, cancellationToken)}");

    /// <summary>The subscription a token names, or null when it is not one of ours.</summary>
    public async ValueTask<long?> VerifyAsync(string token, CancellationToken cancellationToken)
    {
        var bytes = new byte[sizeof(long) + MacBytes + 3];
        if (token.Length != 32 || !Base64Url.TryDecodeFromChars(token, bytes, out var written) || written != sizeof(long) + MacBytes)
        {
            return null;
        }

        var subscriptionId = BinaryPrimitives.ReadInt64BigEndian(bytes);
        var expected = await MacAsync(subscriptionId, cancellationToken);
        return CryptographicOperations.FixedTimeEquals(expected.AsSpan(0, MacBytes), bytes.AsSpan(sizeof(long), MacBytes))
            ? subscriptionId
            : null;
    }

    ValueTask<byte[]> MacAsync(long subscriptionId, CancellationToken cancellationToken) =>
        keys.MacAsync(Purpose, subscriptionId.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
}
