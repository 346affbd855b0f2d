using System.Security.Cryptography;
using Dapper;
using Npgsql;

namespace Subscriptions.Api.Data;

/// <summary>
/// Secret keys kept in PostgreSQL: the first instance that asks creates a key, every instance
/// then reads the same one. They sign unsubscribe links and key the hash an erasure leaves.
/// </summary>
public sealed class ServiceKeys(NpgsqlDataSource dataSource)
{
    readonly SemaphoreSlim _loading = new(1, 1);
    byte[]? _key;

    public async ValueTask<byte[]> KeyAsync(CancellationToken cancellationToken)
    {
        if (_key is { } key)
        {
            return key;
        }

        await _loading.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            return _key ??= await connection.QuerySingleAsync<byte[]>(new CommandDefinition("""
                INSERT INTO service_keys (name, key) VALUES ('main', @candidate) ON CONFLICT (name) DO NOTHING;
                SELECT key FROM service_keys WHERE name = 'main';
                """, new { candidate = RandomNumberGenerator.GetBytes(32) }, cancellationToken: cancellationToken));
        }
        finally
        {
            _loading.Release();
        }
    }

    /// <summary>HMAC-SHA256 under the service key, with a purpose so one MAC can never stand in for another.</summary>
    public async ValueTask<byte[]> MacAsync(string purpose, string value, CancellationToken cancellationToken)
    {
        var mac = new byte[HMACSHA256.HashSizeInBytes];
        Mac(await KeyAsync(cancellationToken), purpose, value, mac);
        return mac;
    }

    /// <summary>The same MAC with the key already in hand, into a buffer.</summary>
    public static void Mac(byte[] key, string purpose, ReadOnlySpan<char> value, Span<byte> destination)
    {
        using var mac = new PurposeMac(key, purpose);
        mac.Compute(value, destination);
    }
}

/// <summary>
/// The service MAC: HMAC-SHA256 of the purpose, a newline and the value's UTF-8. One instance,
/// keyed once, serves many values (an export's rows: keying each time cost three times as much).
/// Not thread-safe.
/// </summary>
public sealed class PurposeMac(byte[] key, string purpose) : IDisposable
{
    readonly IncrementalHash _hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
    readonly byte[] _prefix = System.Text.Encoding.UTF8.GetBytes(purpose + "\n");

    public void Compute(ReadOnlySpan<char> value, Span<byte> destination)
    {
        var utf8 = System.Text.Encoding.UTF8;
        var length = utf8.GetByteCount(value);
        var bytes = length <= 512 ? stackalloc byte[length] : new byte[length];
        utf8.GetBytes(value, bytes);
        _hmac.AppendData(_prefix);
        _hmac.AppendData(bytes);
        _hmac.GetHashAndReset(destination);
    }

    /// <summary>The MAC of a number's decimal digits: the same as <see cref="Compute"/> of its text, without the text.</summary>
    public void Compute(long value, Span<byte> destination)
    {
        // purpose, newline and digits in one buffer, handed over in one call: each call into the
        // crypto library costs about as much as the hashing itself (an export makes two a row)
        _message ??= [.. _prefix, .. new byte[20]];
        System.Buffers.Text.Utf8Formatter.TryFormat(value, _message.AsSpan(_prefix.Length), out var digits);
        _hmac.AppendData(_message.AsSpan(0, _prefix.Length + digits));
        _hmac.GetHashAndReset(destination);
    }

    byte[]? _message;

    public void Dispose() => _hmac.Dispose();
}
