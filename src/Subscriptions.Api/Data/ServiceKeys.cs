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
    public async ValueTask<byte[]> MacAsync(string purpose, string value, CancellationToken cancellationToken) =>
        HMACSHA256.HashData(await KeyAsync(cancellationToken), System.Text.Encoding.UTF8.GetBytes($"{purpose}\n{value}"));
}
