using System.Buffers.Text;
using System.Security.Cryptography;

namespace Subscriptions.Api.Confirmation;

/// <summary>Secrets carried by links in mails: 256 random bits, base64url; only the SHA-256 is stored.</summary>
public static class Token
{
    const int Bytes = 32;

    public static (string Token, byte[] Hash) Mint()
    {
        var secret = RandomNumberGenerator.GetBytes(Bytes);
        return (Base64Url.EncodeToString(secret), SHA256.HashData(secret));
    }

    /// <summary>The stored hash for a token from a URL, or null for anything that cannot be one.</summary>
    public static byte[]? Hash(string token)
    {
        Span<byte> secret = stackalloc byte[Bytes + 3];
        return token.Length == 43 && Base64Url.TryDecodeFromChars(token, secret, out var written) && written == Bytes
            ? SHA256.HashData(secret[..written])
            : null;
    }
}
