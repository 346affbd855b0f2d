using System.Buffers;
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
    /// <remarks>
    /// TryDecodeFromChars throws FormatException on text that is not base64url, and 43 characters
    /// whose last one carries non-zero spare bits (43 × 'a') are such text: an attacker's junk
    /// link would be a 500. DecodeFromChars reports it instead. Done with 32 bytes from 43
    /// characters leaves no room for padding or whitespace, so only canonical tokens pass.
    /// </remarks>
    public static byte[]? Hash(string token)
    {
        Span<byte> secret = stackalloc byte[Bytes + 3];
        return token.Length == 43
            && Base64Url.DecodeFromChars(token, secret, out _, out var written) == OperationStatus.Done && written == Bytes
            ? SHA256.HashData(secret[..written])
            : null;
    }
}
